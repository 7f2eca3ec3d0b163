// ropescope-cli train: pretrains a small model on built-in text with needles, or fine-tunes one with
// LongRoPE2's mixed context window training; writes a Hugging Face folder.
#include "commands.h"
#include "options.h"

#include "common/error.h"
#include "rope/factorfile.h"
#include "runtime/model.h"
#include "runtime/modeloutput.h"
#include "train/trainer.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <cmath>

namespace rs::cli {

namespace {

// What `train` was asked to do, read from its command line.
struct TrainRequest {
    TrainOptions options;
    QString outDir;
    QString saveDtype;  // "float32" or "bfloat16"
    int logEvery = 10;
    bool force = false;
};

// A number option in [lo, hi].
double rangedNumber(const QCommandLineParser &parser, const QCommandLineOption &option, double lo, double hi)
{
    bool ok = false;
    const double v = parser.value(option).toDouble(&ok);
    if (!ok || !std::isfinite(v) || v < lo || v > hi)
        throw UsageError{QStringLiteral("--%1 needs a number in [%2, %3], got '%4'")
                             .arg(option.names().last()).arg(lo).arg(hi).arg(parser.value(option))};
    return v;
}

// The --config file's JSON object (a new model's shape).
QJsonObject readConfigObject(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        throw Error(path, QStringLiteral("cannot open: %1").arg(file.errorString()));
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &parseError);
    if (!doc.isObject())
        throw Error(path, QStringLiteral("not a JSON object: %1").arg(parseError.errorString()));
    return doc.object();
}

// The long-window fine-tuning options (--mixed-window, --plain-window and what goes with them).
struct WindowOptions {
    const QCommandLineOption &mixed;
    const QCommandLineOption &plain;
    const QCommandLineOption &init;
    const QCommandLineOption &attention;
    const QCommandLineOption &targetLength;
    const QCommandLineOption &longFraction;
    const QCommandLineOption &originalShort;
};

void applyWindowOptions(const QCommandLineParser &parser, const WindowOptions &w, TrainOptions &o)
{
    if (parser.isSet(w.mixed) && parser.isSet(w.plain))
        throw UsageError{QStringLiteral("give --mixed-window or --plain-window, not both")};
    if (parser.isSet(w.mixed) || parser.isSet(w.plain)) {
        const QString mode = parser.isSet(w.mixed) ? QStringLiteral("--mixed-window") : QStringLiteral("--plain-window");
        if (!parser.isSet(w.init) || !parser.isSet(kFactorsOption) || !parser.isSet(w.targetLength))
            throw UsageError{QStringLiteral("%1 needs --init, --factors and --target-length").arg(mode)};
        if (parser.isSet(w.plain) && parser.isSet(w.originalShort))
            throw UsageError{QStringLiteral("--original-short-rope needs --mixed-window")};
        o.mixedWindow = parser.isSet(w.mixed);
        o.plainWindow = parser.isSet(w.plain);
        o.seqLen = lengthOption(parser, w.targetLength, 2);
        o.longFactors = readFactorFile(parser.value(kFactorsOption));
        if (parser.isSet(w.attention))
            o.attentionFactor = positiveNumber(parser, w.attention);
        o.longFraction = rangedNumber(parser, w.longFraction, 1e-9, 1);
        o.originalShortRope = parser.isSet(w.originalShort);
    } else if (parser.isSet(kFactorsOption) || parser.isSet(w.targetLength) || parser.isSet(w.attention) ||
               parser.isSet(w.originalShort)) {
        throw UsageError{QStringLiteral("--factors, --target-length, --attention-factor and --original-short-rope "
                                        "need --mixed-window or --plain-window")};
    }
}

TrainRequest parseTrainRequest(const QStringList &args)
{
    QCommandLineParser parser;
    const QCommandLineOption config(QStringLiteral("config"),
                                    QStringLiteral("config.json of a new model to pretrain from scratch."),
                                    QStringLiteral("CONFIG.json"));
    const QCommandLineOption init(QStringLiteral("init"), QStringLiteral("Hugging Face model folder to start from."),
                                  QStringLiteral("DIR"));
    const QCommandLineOption outDir(QStringLiteral("out"),
                                    QStringLiteral("Folder to write the trained model to: a new or empty folder "
                                                   "(written whole at the end, or not at all)."),
                                    QStringLiteral("DIR"));
    const QCommandLineOption force(QStringLiteral("force"),
                                   QStringLiteral("Replace --out when it already holds files (another model's)."));
    const QCommandLineOption tokenizer(QStringLiteral("tokenizer"),
                                       QStringLiteral("tokenizer.json to train with and copy (default: --init's)."),
                                       QStringLiteral("FILE"));
    const QCommandLineOption steps(QStringLiteral("steps"), QStringLiteral("Optimizer steps (default 200)."),
                                   QStringLiteral("N"), QStringLiteral("200"));
    const QCommandLineOption batch(QStringLiteral("batch"), QStringLiteral("Rows per step (default 8)."),
                                   QStringLiteral("N"), QStringLiteral("8"));
    const QCommandLineOption seqLen(QStringLiteral("seq-len"),
                                    QStringLiteral("Tokens per row (default 512; ignored with --mixed-window, "
                                                   "whose rows have --target-length tokens)."),
                                    QStringLiteral("T"), QStringLiteral("512"));
    const QCommandLineOption lr(QStringLiteral("lr"), QStringLiteral("Peak learning rate (default 1e-3)."),
                                QStringLiteral("LR"), QStringLiteral("1e-3"));
    const QCommandLineOption minLr(QStringLiteral("min-lr-ratio"),
                                   QStringLiteral("Cosine floor as a fraction of --lr (default 0.1)."),
                                   QStringLiteral("F"), QStringLiteral("0.1"));
    const QCommandLineOption warmup(QStringLiteral("warmup"), QStringLiteral("Linear warmup steps (default 20)."),
                                    QStringLiteral("N"), QStringLiteral("20"));
    const QCommandLineOption weightDecay(QStringLiteral("weight-decay"),
                                         QStringLiteral("AdamW weight decay on matrices (default 0.1)."),
                                         QStringLiteral("W"), QStringLiteral("0.1"));
    const QCommandLineOption clip(QStringLiteral("clip"),
                                  QStringLiteral("Gradient norm limit; 0 disables clipping (default 1)."),
                                  QStringLiteral("C"), QStringLiteral("1"));
    const QCommandLineOption trainSeed(QStringLiteral("seed"), QStringLiteral("Seed of weights and data (default 0)."),
                                       QStringLiteral("S"), QStringLiteral("0"));
    const QCommandLineOption needles(QStringLiteral("needle-fraction"),
                                     QStringLiteral("Share of documents carrying a needle (default 0.5)."),
                                     QStringLiteral("F"), QStringLiteral("0.5"));
    const QCommandLineOption drill(QStringLiteral("drill-fraction"),
                                   QStringLiteral("Share of needle documents written as a retrieval drill: up to "
                                                  "4 needles, then their questions (default 0)."),
                                   QStringLiteral("F"), QStringLiteral("0"));
    const QCommandLineOption answerWeight(QStringLiteral("answer-weight"),
                                          QStringLiteral("Loss weight of needle answer tokens relative to the "
                                                         "rest (default 1)."),
                                          QStringLiteral("W"), QStringLiteral("1"));
    const QCommandLineOption saveDtype(QStringLiteral("save-dtype"),
                                       QStringLiteral("Storage dtype: float32 or bfloat16 (default float32)."),
                                       QStringLiteral("T"), QStringLiteral("float32"));
    const QCommandLineOption mixed(QStringLiteral("mixed-window"),
                                   QStringLiteral("Mixed context window fine-tuning (LongRoPE2 §3.3): needs --init, "
                                                  "--factors and --target-length."));
    const QCommandLineOption plain(QStringLiteral("plain-window"),
                                   QStringLiteral("Plain long-window fine-tuning, the ablation of --mixed-window: "
                                                  "the same rows, every document with the rescaled RoPE, and the "
                                                  "written config uses the factors at every length (as PI and YaRN "
                                                  "do). Needs --init, --factors and --target-length."));
    const QCommandLineOption attention(QStringLiteral("attention-factor"),
                                       QStringLiteral("Attention factor of the long RoPE (default: longrope's "
                                                      "sqrt(1 + ln s / ln L_train))."),
                                       QStringLiteral("A"));
    const QCommandLineOption targetLength(QStringLiteral("target-length"),
                                          QStringLiteral("Target context length L (the rows' length) with --mixed-window "
                                                         "or --plain-window."),
                                          QStringLiteral("L"));
    const QCommandLineOption longFraction(QStringLiteral("long-fraction"),
                                          QStringLiteral("With --mixed-window or --plain-window: share of rows "
                                                         "holding a long document (default 0.5)."),
                                          QStringLiteral("F"), QStringLiteral("0.5"));
    const QCommandLineOption originalShort(QStringLiteral("original-short-rope"),
                                           QStringLiteral("With --mixed-window: short documents without the "
                                                          "attention factor (the runtime applies it to both)."));
    const QCommandLineOption logEvery(QStringLiteral("log-every"),
                                      QStringLiteral("Print progress every N steps (default 10)."),
                                      QStringLiteral("N"), QStringLiteral("10"));
    const QCommandLineOption trainDevice(QStringLiteral("device"), QStringLiteral("cpu or cuda (default cpu)."),
                                         QStringLiteral("DEV"), QStringLiteral("cpu"));
    parser.addOptions({config, init, outDir, tokenizer, steps, batch, seqLen, lr, minLr, warmup, weightDecay, clip,
                       trainSeed, kCorpusOption, needles, drill, answerWeight, saveDtype, mixed, plain, kFactorsOption, attention, targetLength,
                       longFraction, originalShort, logEvery, trainDevice, force});
    parseOrThrow(parser, args,
                 QStringLiteral("Pretrain a small Llama-family model from scratch on built-in English-like text "
                                "with needles (or a corpus), or fine-tune one with LongRoPE2's mixed context "
                                "window training; writes a Hugging Face folder."));
    if (parser.isSet(config) == parser.isSet(init))
        throw UsageError{QStringLiteral("give --config CONFIG.json (new model) or --init DIR (existing model)")};
    if (!parser.isSet(outDir))
        throw UsageError{QStringLiteral("--out DIR is required")};
    if (parser.isSet(config) && !parser.isSet(tokenizer))
        throw UsageError{QStringLiteral("--tokenizer tokenizer.json is required with --config")};
    const auto ranged = [&](const QCommandLineOption &option, double lo, double hi) {
        return rangedNumber(parser, option, lo, hi);
    };
    TrainRequest request;
    TrainOptions &o = request.options;
    o.steps = wholeNumber(parser, steps, 1);
    o.batch = wholeNumber(parser, batch, 1);
    o.seqLen = lengthOption(parser, seqLen, 2);
    o.lr = positiveNumber(parser, lr);
    o.minLrRatio = ranged(minLr, 0, 1);
    o.warmup = wholeNumber(parser, warmup, 0);
    o.weightDecay = ranged(weightDecay, 0, 1e9);
    o.clip = ranged(clip, 0, 1e30);
    o.seed = uint64_t(wholeNumber(parser, trainSeed, 0));
    o.corpus.path = parser.value(kCorpusOption);
    o.corpus.needleFraction = ranged(needles, 0, 1);
    o.corpus.drillFraction = ranged(drill, 0, 1);
    o.answerWeight = ranged(answerWeight, 1e-6, 1e6);
    o.device = checkedDevice(parser.value(trainDevice));
    o.tokenizerPath = parser.value(tokenizer);
    request.saveDtype = parser.value(saveDtype).toLower();
    if (request.saveDtype != QLatin1String("float32") && request.saveDtype != QLatin1String("bfloat16"))
        throw UsageError{QStringLiteral("--save-dtype needs float32 or bfloat16")};
    request.logEvery = wholeNumber(parser, logEvery, 1);
    applyWindowOptions(parser, {mixed, plain, init, attention, targetLength, longFraction, originalShort}, o);
    if (parser.isSet(config)) {
        o.configSource = parser.value(config);
        o.config = readConfigObject(o.configSource);
    } else {
        o.initDir = parser.value(init);
    }
    request.outDir = parser.value(outDir);
    request.force = parser.isSet(force);
    return request;
}

// The run's first lines: the model, then its data.
void printTrainHeader(Trainer &trainer, const TrainOptions &o)
{
    const CausalLM &lm = trainer.model();
    err() << "train   " << (o.initDir.isEmpty() ? o.configSource : o.initDir) << " (" << lm.architecture() << ", "
          << lm.numLayers() << " layers, hidden " << lm.hiddenSize() << ", "
          << number(double(lm.weightBytes()) / 4e6, 4) << "M parameters, " << lm.device() << ")\n"
          << "data    " << trainer.corpus().description() << ", rows of " << o.seqLen << " tokens, batch "
          << o.batch << (o.mixedWindow   ? QStringLiteral(", mixed windows (L_train %1)").arg(trainer.packing().maxShortTokens)
              : o.plainWindow ? QStringLiteral(", plain windows (every document rescaled)")
                              : QString())
          << "\n";
}

// The exposure that decides a mixed/plain comparison: how many tokens sit in documents beyond
// L_train, the only ones that see positions past it. Mixed and plain windows pack the same rows,
// so the share is the same for both; they differ in the short documents. Measured on the first
// batches only: packing every step's rows here would prepare the whole run's data twice before its
// first step (rows are independent draws, so a prefix estimates the share).
void printLongTokenShare(Trainer &trainer, const TrainOptions &o)
{
    long longTokens = 0, tokens = 0, longRows = 0, rows = 0;
    for (int k = 0; k < std::min(o.steps, 64); ++k)
        for (const PackedRow &row : trainer.batchRows(k)) {
            rows += 1;
            longRows += !row.docs.empty() && row.docs.front().longRope ? 1 : 0;
            for (const DocSpan &doc : row.docs) {
                tokens += doc.length;
                longTokens += doc.longRope ? doc.length : 0;
            }
        }
    const double share = tokens > 0 ? 100.0 * double(longTokens) / double(tokens) : 0.0;
    err() << "rows    " << longRows << " of the first " << rows << " rows long: " << number(share, 3)
          << " % of tokens in documents beyond L_train, on the long factors; the other "
          << number(100.0 - share, 3) << " % in short documents, on "
          << (o.plainWindow ? "the long factors too (plain windows)" : "the short factors (mixed windows)") << "\n";
}

// A progress line every --log-every steps, and at the first and the last.
void printTrainProgress(const TrainProgress &p, int every)
{
    if (p.step % every == 0 || p.step == p.steps || p.step == 1) {
        // The answer loss is what retrieval lowers: about ln 10 = 2.30 per digit while the
        // model guesses, towards 0 once it copies the needle's value.
        const QString answer = std::isfinite(p.answerLoss) ? QStringLiteral("  answer %1").arg(p.answerLoss, 0, 'f', 3)
                                                           : QString();
        err() << QStringLiteral("step %1/%2  loss %3%7  lr %4  grad %5  %6 tok/s\n")
                     .arg(p.step).arg(p.steps)
                     .arg(p.loss, 0, 'f', 4)
                     .arg(p.lr, 0, 'g', 3)
                     .arg(p.gradNorm, 0, 'f', 3)
                     .arg(p.tokensPerSecond, 0, 'f', 0)
                     .arg(answer);
        err().flush();
    }
}

} // namespace

int train(const QStringList &args)
{
    return run([&] {
        const TrainRequest request = parseTrainRequest(args);
        const TrainOptions &o = request.options;
        // Found now, not after the training: a folder that cannot be written, or that holds another
        // model's files. Nothing is made before the model is saved, whole (runtime/modeloutput.h).
        ModelOutputOptions output;
        output.replace = request.force;
        output.howToReplace = QStringLiteral("--force");
        checkModelOutput(request.outDir, output);
        Trainer trainer(o);
        printTrainHeader(trainer, o);
        if (o.mixedWindow || o.plainWindow)
            printLongTokenShare(trainer, o);
        err().flush();
        const TrainResult r = trainer.run([&](const TrainProgress &p) { printTrainProgress(p, request.logEvery); });
        trainer.save(request.outDir, request.saveDtype, output.replace);
        err() << "saved   " << request.outDir << " after " << r.steps << " steps, " << number(r.seconds, 4)
              << " s, " << number(r.tokensPerSecond, 4) << " tok/s\n";
        return kOk;
    }, QStringLiteral("a smaller --batch or --seq-len (--target-length with --mixed-window or --plain-window) needs less"));
}

} // namespace rs::cli
