#include "eval/evaluator.h"
#include "common/error.h"
#include "runtime/modelfolder.h"
#include "runtime/tokenizer.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace rs {
namespace {

QJsonObject readJsonObject(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        throw Error(path, QStringLiteral("cannot open: %1").arg(f.errorString()));
    QJsonParseError err;
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &err);
    if (err.error != QJsonParseError::NoError || !doc.isObject())
        throw Error(path, QStringLiteral("malformed JSON: %1").arg(err.errorString()));
    return doc.object();
}

double mean(const std::vector<double> &v)
{
    return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
}

} // namespace

ModelTokenizer loadModelTokenizer(const QString &modelDir)
{
    // Every file is resolved by the folder first: nothing outside it is ever opened.
    const ModelFolder folder(modelDir);
    ModelTokenizer out;
    out.tokenizer = loadTokenizer(folder.file(QStringLiteral("tokenizer.json")));
    out.bosId = out.tokenizer->fileBosId();
    const std::optional<QString> tokenizerConfigPath = folder.optionalFile(QStringLiteral("tokenizer_config.json"));
    const QJsonValue addBos = tokenizerConfigPath ? readJsonObject(*tokenizerConfigPath).value(QLatin1String("add_bos_token"))
                                                  : QJsonValue();
    if (addBos.isBool() && !addBos.toBool()) {
        out.bosId = -1;
    } else if (addBos.isBool()) {
        const std::optional<QString> configPath = folder.optionalFile(QStringLiteral("config.json"));
        const QJsonValue bos = configPath ? readJsonObject(*configPath).value(QLatin1String("bos_token_id")) : QJsonValue();
        if (bos.isDouble())
            out.bosId = bos.toInt();
        if (out.bosId < 0)
            throw Error(*tokenizerConfigPath, QStringLiteral("add_bos_token is true but no bos_token_id is known"));
    }
    return out;
}

NeedleEvaluator::NeedleEvaluator(CausalLM &model, const Tokenizer &tokenizer, int bosId,
                                 const NeedleEvalSettings &settings)
    : m_model(model), m_settings(settings)
{
    if (settings.samples < 1)
        throw Error(QStringLiteral("needle"), QStringLiteral("at least one sample is needed"));
    // Refused with the figures, before a token is made, when this machine cannot run it: the
    // samples' ids, the text they are cut from (about 6 UTF-16 characters a token, grown by
    // doubling), and one forward over the length.
    const double sampleBytes = double(settings.samples) * settings.length * sizeof(int) + double(settings.length) * 6 * 2 * 2;
    model.requireMemoryFor(settings.length, 1, sampleBytes);
    const Haystack haystack = settings.corpus.isEmpty() ? Haystack::builtin() : Haystack::fromPath(settings.corpus);
    const NeedleBuilder builder([&tokenizer](const QString &text) { return tokenizer.encode(text); }, haystack,
                                tokenizer.source());
    NeedleOptions options;
    options.length = settings.length;
    options.depth = settings.depth;
    options.seed = settings.seed;
    options.bosId = bosId;
    m_samples = builder.buildMany(settings.samples, options);
}

double NeedleEvaluator::sampleNll(int index, const RopeOverride *rope) const
{
    const NeedleSample &s = m_samples.at(size_t(index));
    return mean(m_model.targetNll(s.ids, s.answerPositions, rope));
}

std::vector<double> NeedleEvaluator::sampleNllBatch(int index, const std::vector<RopeOverride> &ropes) const
{
    const NeedleSample &s = m_samples.at(size_t(index));
    std::vector<double> out;
    for (const std::vector<double> &nll : m_model.targetNllBatch(s.ids, s.answerPositions, ropes))
        out.push_back(mean(nll));
    return out;
}

NeedleEvalResult NeedleEvaluator::evaluate(const RopeOverride *rope, const Cancelled &cancelled,
                                           const Progress &progress, bool passkey) const
{
    QElapsedTimer timer;
    timer.start();
    NeedleEvalResult r;
    r.length = m_settings.length;
    r.device = m_model.device();
    const int total = int(m_samples.size());
    for (int i = 0; i < total; ++i) {
        if (cancelled && cancelled()) {
            r.cancelled = true;
            break;
        }
        double nll = 0;
        if (passkey) {
            // The answer tokens are the sample's last ones (NeedleSample), so one forward up to
            // the last of them scores them all and leaves the prompt's keys for decoding.
            const NeedleSample &s = m_samples[size_t(i)];
            const int answerStart = s.answerPositions.front();
            const CausalLM::AnswerScore score = m_model.scoreAnswer(s.ids, answerStart, true, rope);
            nll = mean(score.nll);
            r.perSamplePasskey.push_back(std::equal(score.greedy.begin(), score.greedy.end(), s.ids.begin() + answerStart,
                                                    s.ids.end()) ? 1 : 0);
        } else {
            nll = sampleNll(i, rope);
        }
        r.perSampleNll.push_back(nll);
        r.perSamplePpl.push_back(std::exp(nll));
        if (progress)
            progress(i + 1, total);
    }
    r.meanPpl = mean(r.perSamplePpl);
    if (passkey && !r.perSamplePasskey.empty())
        r.passkeyAccuracy = double(std::accumulate(r.perSamplePasskey.begin(), r.perSamplePasskey.end(), 0)) /
                            double(r.perSamplePasskey.size());
    r.seconds = timer.nsecsElapsed() / 1e9;
    return r;
}

double NeedleEvaluator::passkeyAccuracy(const RopeOverride *rope, const Cancelled &cancelled) const
{
    int correct = 0;
    int done = 0;
    for (const NeedleSample &s : m_samples) {
        if (cancelled && cancelled())
            break;
        const auto answerBegin = s.ids.begin() + s.answerPositions.front();
        const std::vector<int> prompt(s.ids.begin(), answerBegin);
        const std::vector<int> expected(answerBegin, s.ids.end());
        correct += m_model.greedyContinue(prompt, int(expected.size()), rope) == expected ? 1 : 0;
        ++done;
    }
    return done == 0 ? 0.0 : double(correct) / done;
}

double SlidingWindowScore::meanNll() const
{
    const double sum = std::accumulate(nllSum.begin(), nllSum.end(), 0.0);
    const double count = std::accumulate(tokens.begin(), tokens.end(), 0.0);
    return sum / count;
}

SlidingWindowScore slidingWindowNll(CausalLM &model, const std::vector<int> &ids, int window, int stride,
                                    const RopeOverride *rope, const NeedleEvaluator::Cancelled &cancelled)
{
    if (window < 2 || stride < 1 || stride > window)
        throw Error(QStringLiteral("perplexity"), QStringLiteral("needs window ≥ 2 and 1 ≤ stride ≤ window"));
    if (ids.size() < 2)
        throw Error(QStringLiteral("perplexity"), QStringLiteral("needs at least two tokens"));
    SlidingWindowScore out;
    size_t scoredUpTo = 1;  // the first token has no prediction
    for (size_t begin = 0; scoredUpTo < ids.size(); begin += size_t(stride)) {
        if (cancelled && cancelled())
            break;
        const size_t end = std::min(ids.size(), begin + size_t(window));
        const std::vector<int> chunk(ids.begin() + long(begin), ids.begin() + long(end));
        std::vector<int> targets;
        for (size_t p = std::max(scoredUpTo, begin + 1); p < end; ++p)
            targets.push_back(int(p - begin));
        if (!targets.empty()) {
            double sum = 0;
            for (double nll : model.targetNll(chunk, targets, rope))
                sum += nll;
            out.nllSum.push_back(sum);
            out.tokens.push_back(int(targets.size()));
        }
        scoredUpTo = std::max(scoredUpTo, end);
    }
    return out;
}

double slidingPerplexity(CausalLM &model, const std::vector<int> &ids, int window, int stride, const RopeOverride *rope)
{
    return std::exp(slidingWindowNll(model, ids, window, stride, rope).meanNll());
}

} // namespace rs
