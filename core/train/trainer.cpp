// Training: corpus, packing and the AdamW loop (trainer.h); the checkpoint writer is runtime/checkpoint.h.
#include "train/trainer_p.h"

#include "rope/configexport.h"
#include "common/error.h"
#include "eval/evaluator.h"
#include "rope/factorfamilies.h"
#include "eval/needle.h"
#include "rope/ropeconfig.h"
#include "runtime/modelfolder.h"
#include "runtime/safetensors.h"
#include "runtime/tokenizer.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>

#include <algorithm>
#include <cmath>
#include <limits>
#include <new>
#include <random>

namespace rs {
namespace {

// splitmix64: decorrelates the seeds of rows and documents drawn from one user seed.
uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// std::mt19937_64's sequence is fixed by the standard, its distributions are not: draws by hand
// keep corpora identical across compilers (as in needle.cpp).
class Rng {
public:
    explicit Rng(uint64_t seed) : m_engine(seed) {}
    uint64_t below(uint64_t n) { return n == 0 ? 0 : m_engine() % n; }
    int between(int lo, int hi) { return lo + int(below(uint64_t(hi - lo + 1))); }  // inclusive
    double uniform() { return double(m_engine() >> 11) * (1.0 / 9007199254740992.0); }

private:
    std::mt19937_64 m_engine;
};

using detail::guarded;

// A drill's question: the template question's last sentence, so that drills ask in the
// evaluation's words.
QString drillQuestion(const QString &key)
{
    const QString question = NeedleBuilder::question(key);
    return QStringLiteral("\n") + question.mid(question.indexOf(QLatin1String("? ")) + 2);
}

const Haystack &haystackOf(const std::shared_ptr<const void> &p)
{
    return *static_cast<const Haystack *>(p.get());
}

torch::Tensor toLong(const std::vector<int64_t> &v, const std::vector<int64_t> &shape)
{
    return torch::tensor(at::ArrayRef<int64_t>(v), torch::dtype(torch::kInt64)).view(shape);
}

} // namespace

// ---- corpus ------------------------------------------------------------------------------------

TrainingCorpus::TrainingCorpus(Encoder encode, const CorpusOptions &options)
    : m_encode(std::move(encode)), m_options(options)
{
    if (!(options.needleFraction >= 0 && options.needleFraction <= 1))
        throw Error(QStringLiteral("corpus"), QStringLiteral("the needle fraction must lie in 0 … 1"));
    if (!(options.drillFraction >= 0 && options.drillFraction <= 1))
        throw Error(QStringLiteral("corpus"), QStringLiteral("the drill fraction must lie in 0 … 1"));
    m_haystack = std::make_shared<Haystack>(options.path.isEmpty() ? Haystack::builtin() : Haystack::fromPath(options.path));
    // The template's and a one-needle drill's lengths vary with the key: take the longest over many
    // keys, plus a margin for keys not drawn here (keys differ by a few characters at most). A
    // drill also keeps a tenth of its length for filler.
    const int bos = options.bosId >= 0 ? 1 : 0;
    const size_t instruction = m_encode(NeedleBuilder::instruction()).size();
    int longest = 0, longestPair = 0;
    for (uint64_t s = 0; s < 256; ++s) {
        QString key, value;
        needleKeyValue(s, &key, &value);
        const size_t needle = m_encode(NeedleBuilder::needleSentence(key, value)).size();
        longest = std::max(longest, int(instruction + needle + m_encode(NeedleBuilder::question(key) + NeedleBuilder::answer(value)).size()));
        longestPair = std::max(longestPair, int(needle + m_encode(drillQuestion(key) + NeedleBuilder::answer(value)).size()));
    }
    m_needleTokens = longest + 8 + bos;
    m_drillTokens = (longestPair + 8 + bos) * 10 / 9 + 1;
}

int TrainingCorpus::needleDocumentTokens() const
{
    return m_options.drillFraction > 0 ? std::min(m_drillTokens, m_needleTokens) : m_needleTokens;
}

QString TrainingCorpus::description() const
{
    return haystackOf(m_haystack).description();
}

TrainDocument TrainingCorpus::document(uint64_t index, int length, bool needle) const
{
    if (length < 1)
        throw Error(QStringLiteral("corpus"), QStringLiteral("a document needs at least 1 token, asked for %1").arg(length));
    const uint64_t seed = mix(mix(m_options.seed) ^ index);
    TrainDocument doc;
    if (needle && m_options.drillFraction > 0) {
        // Too short for the template, or drawn for a drill.
        Rng pick(mix(seed ^ 0xd7177ull));
        if ((length < m_needleTokens || pick.uniform() < m_options.drillFraction) && drillDocument(seed, length, &doc))
            return doc;
    }
    if (needle && length >= m_needleTokens) {
        Rng rng(seed);
        NeedleOptions o;
        o.length = length;
        o.depth = rng.uniform();
        o.seed = seed;
        o.bosId = m_options.bosId;
        try {
            const NeedleSample s = NeedleBuilder(m_encode, haystackOf(m_haystack)).build(o);
            doc.ids = s.ids;
            doc.hasNeedle = true;
            doc.key = s.key;
            doc.value = s.value;
            doc.needlePosition = s.needlePosition;
            doc.answerPositions = s.answerPositions;
            doc.needleCount = 1;
            return doc;
        } catch (const Error &) {
            // A key longer than any measured: this one document goes without a needle.
        }
    }
    const int bos = m_options.bosId >= 0 ? 1 : 0;
    const int want = length - bos;
    const std::vector<int> text = haystackTokens(m_encode, haystackOf(m_haystack), want, seed);
    if (bos)
        doc.ids.push_back(m_options.bosId);
    doc.ids.insert(doc.ids.end(), text.begin(), text.end());
    return doc;
}

bool TrainingCorpus::drillDocument(uint64_t seed, int length, TrainDocument *doc) const
{
    Rng rng(mix(seed ^ 0xd7111ull));
    const int bos = m_options.bosId >= 0 ? 1 : 0;
    struct Pair {
        QString key, value;
        std::vector<int> needle, query, answer;
    };
    std::vector<Pair> pairs;
    int fixed = bos;
    // As many needles as fit (at most four), leaving at least a tenth of the document to filler.
    for (int attempt = 0; attempt < 16 && pairs.size() < 4; ++attempt) {
        Pair p;
        needleKeyValue(mix(seed + uint64_t(attempt)), &p.key, &p.value);
        if (std::any_of(pairs.begin(), pairs.end(), [&](const Pair &q) { return q.key == p.key; }))
            continue;
        const QString query = drillQuestion(p.key);
        p.needle = m_encode(NeedleBuilder::needleSentence(p.key, p.value));
        p.query = m_encode(query);
        const std::vector<int> tail = m_encode(query + NeedleBuilder::answer(p.value));
        p.answer = tokensAfterCommonPrefix(tail, p.query);
        p.query.assign(tail.begin(), tail.end() - long(p.answer.size()));
        const int cost = int(p.needle.size() + p.query.size() + p.answer.size());
        if (p.answer.empty() || fixed + cost > length - length / 10)
            break;
        fixed += cost;
        pairs.push_back(std::move(p));
    }
    if (pairs.empty())
        return false;
    const int fillerCount = length - fixed;
    const std::vector<int> filler = haystackTokens(m_encode, haystackOf(m_haystack), fillerCount, seed);
    // Needles at sorted random depths; the queries in shuffled order after all the filler.
    std::vector<int> cuts;
    for (size_t i = 0; i < pairs.size(); ++i)
        cuts.push_back(int(rng.below(uint64_t(fillerCount) + 1)));
    std::sort(cuts.begin(), cuts.end());
    std::vector<size_t> order(pairs.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    for (size_t i = order.size(); i > 1; --i)
        std::swap(order[i - 1], order[rng.below(i)]);

    TrainDocument &d = *doc;
    d = TrainDocument{};
    d.ids.reserve(size_t(length));
    if (bos)
        d.ids.push_back(m_options.bosId);
    int from = 0;
    for (size_t i = 0; i < pairs.size(); ++i) {
        d.ids.insert(d.ids.end(), filler.begin() + from, filler.begin() + cuts[i]);
        from = cuts[i];
        if (i == 0)
            d.needlePosition = int(d.ids.size());
        d.ids.insert(d.ids.end(), pairs[i].needle.begin(), pairs[i].needle.end());
    }
    d.ids.insert(d.ids.end(), filler.begin() + from, filler.end());
    for (size_t i : order) {
        d.ids.insert(d.ids.end(), pairs[i].query.begin(), pairs[i].query.end());
        for (int id : pairs[i].answer) {
            d.answerPositions.push_back(int(d.ids.size()));
            d.ids.push_back(id);
        }
    }
    d.hasNeedle = true;
    d.needleCount = int(pairs.size());
    d.key = pairs[order.back()].key;  // the last question's
    d.value = pairs[order.back()].value;
    return true;
}

PackedRow packRow(const TrainingCorpus &corpus, uint64_t rowIndex, const PackingOptions &o)
{
    const QString src = QStringLiteral("packing");
    if (o.rowLength < 1 || o.minDocTokens < 1 || o.minDocTokens > o.maxShortTokens || o.maxShortTokens > o.rowLength)
        throw Error(src, QStringLiteral("need 1 ≤ minimum document (%1) ≤ longest short document (%2) ≤ row length (%3)")
                             .arg(o.minDocTokens).arg(o.maxShortTokens).arg(o.rowLength));
    if (o.longFraction > 0 && (o.longMinTokens <= o.maxShortTokens || o.longMinTokens > o.rowLength))
        throw Error(src, QStringLiteral("long documents need longest short document (%1) < their minimum (%2) ≤ row length (%3)")
                             .arg(o.maxShortTokens).arg(o.longMinTokens).arg(o.rowLength));
    Rng rng(mix(rowIndex ^ 0x726f77'0000000000ull));
    const double needleFraction = corpus.needleFraction();
    const int needleMin = corpus.needleDocumentTokens();
    PackedRow row;
    row.ids.reserve(size_t(o.rowLength));
    int docNo = 0;
    const auto add = [&](int length, bool longRope, bool needle) {
        const TrainDocument doc = corpus.document((rowIndex << 20) | uint64_t(docNo++), length, needle);
        const int start = int(row.ids.size());
        row.docs.push_back(DocSpan{start, length, longRope});
        for (int p : doc.answerPositions)
            row.answerPositions.push_back(start + p);
        row.ids.insert(row.ids.end(), doc.ids.begin(), doc.ids.end());
    };
    if (o.longFraction > 0 && rng.uniform() < o.longFraction) {
        // A long row holds long documents only, as the reference recipe's rows do (nnscaler's
        // LongRoPE2 data): its RoPE is chosen by its length, so every token of it trains the
        // rescaled RoPE, and the share of such tokens is the share of long rows.
        while (int(row.ids.size()) < o.rowLength) {
            const int remaining = o.rowLength - int(row.ids.size());
            int n = remaining <= o.longMinTokens ? remaining : rng.between(o.longMinTokens, remaining);
            if (remaining - n < o.longMinTokens)
                n = remaining;  // no room for another long document after it
            add(n, true, rng.uniform() < needleFraction);
        }
        return row;
    }
    while (int(row.ids.size()) < o.rowLength) {
        const int remaining = o.rowLength - int(row.ids.size());
        const int most = std::min(o.maxShortTokens, remaining);
        const bool needle = most >= needleMin && rng.uniform() < needleFraction;
        int n = rng.between(needle ? needleMin : o.minDocTokens, most);
        n = std::max(1, std::min(n, remaining));
        // Never leave a tail shorter than the minimum document: absorb it or leave room for one.
        const int rest = remaining - n;
        if (rest > 0 && rest < o.minDocTokens)
            n = remaining <= o.maxShortTokens ? remaining : std::max(needle ? needleMin : 1, remaining - o.minDocTokens);
        add(n, false, needle);
    }
    return row;
}

// ---- tensors -----------------------------------------------------------------------------------

namespace detail {

TrainBatch makeTrainBatch(const TorchModel &m, const std::vector<PackedRow> &rows, const RopeTable &shortTable,
                          const RopeTable &longTable, double answerWeight)
{
    if (rows.empty())
        throw Error(m.directory, QStringLiteral("an empty batch"));
    const int64_t B = int64_t(rows.size()), T = int64_t(rows.front().ids.size());
    std::vector<int64_t> ids, targets, positions, docOf;
    std::vector<float> weights(size_t(B * T), 1.0f);
    std::vector<uint8_t> answer(size_t(B * T), 0);
    ids.reserve(size_t(B * T));
    targets.assign(size_t(B * T), kIgnoreTarget);
    positions.assign(size_t(B * T), 0);
    docOf.assign(size_t(B * T), -1);
    std::vector<torch::Tensor> cosRows, sinRows;
    for (int64_t b = 0; b < B; ++b) {
        const PackedRow &row = rows[size_t(b)];
        if (int64_t(row.ids.size()) != T)
            throw Error(m.directory, QStringLiteral("row %1 has %2 tokens, row 0 has %3").arg(b).arg(row.ids.size()).arg(T));
        for (int id : row.ids) {
            if (id < 0 || id >= m.spec.vocabSize)
                throw Error(m.directory, QStringLiteral("token id %1 is outside the vocabulary [0, %2)").arg(id).arg(m.spec.vocabSize));
            ids.push_back(id);
        }
        std::vector<torch::Tensor> cosParts, sinParts;
        int64_t expected = 0;
        for (size_t k = 0; k < row.docs.size(); ++k) {
            const DocSpan &s = row.docs[k];
            if (s.start != expected || s.length < 1 || s.start + s.length > T)
                throw Error(m.directory, QStringLiteral("row %1: document spans do not tile the row").arg(b));
            expected = s.start + s.length;
            for (int p = 0; p < s.length; ++p) {
                const size_t at = size_t(b * T + s.start + p);
                positions[at] = p;
                docOf[at] = int64_t(k);
                if (p + 1 < s.length)
                    targets[at] = row.ids[size_t(s.start + p + 1)];
            }
            const RotaryCache piece = rotaryCache(m, s.longRope ? longTable : shortTable,
                                                  torch::arange(int64_t(s.length), torch::dtype(torch::kInt64)));
            cosParts.push_back(piece.cos);
            sinParts.push_back(piece.sin);
        }
        if (expected != T)
            throw Error(m.directory, QStringLiteral("row %1: document spans cover %2 of %3 tokens").arg(b).arg(expected).arg(T));
        // An answer token is the target of the position before it.
        for (int p : row.answerPositions) {
            if (p < 1 || p >= T)
                throw Error(m.directory, QStringLiteral("row %1: answer position %2 outside 1 … %3").arg(b).arg(p).arg(T - 1));
            weights[size_t(b * T + p - 1)] = float(answerWeight);
            answer[size_t(b * T + p - 1)] = 1;
        }
        cosRows.push_back(torch::cat(cosParts, 0));
        sinRows.push_back(torch::cat(sinParts, 0));
    }
    TrainBatch batch;
    batch.ids = toLong(ids, {B, T}).to(m.device);
    batch.targets = toLong(targets, {B, T}).to(m.device);
    batch.positions = toLong(positions, {B, T}).to(m.device);
    batch.weights = torch::tensor(at::ArrayRef<float>(weights), torch::dtype(torch::kFloat32)).view({B, T}).to(m.device);
    batch.answer = torch::tensor(at::ArrayRef<uint8_t>(answer), torch::dtype(torch::kUInt8)).view({B, T}).to(torch::kBool).to(m.device);
    const torch::Tensor doc = toLong(docOf, {B, T}).to(m.device);
    const torch::Tensor idx = torch::arange(T, torch::dtype(torch::kInt64).device(m.device));
    const torch::Tensor causal = idx.unsqueeze(0) <= idx.unsqueeze(1);  // [T, T]: key j ≤ query i
    batch.allowed = (doc.unsqueeze(2) == doc.unsqueeze(1)).logical_and(causal.unsqueeze(0));
    batch.rope.cos = torch::stack(cosRows, 0);
    batch.rope.sin = torch::stack(sinRows, 0);
    return batch;
}

BatchLoss batchLoss(const TorchModel &m, const TrainBatch &batch)
{
    const torch::Tensor hidden = forwardHidden(m, batch.ids, batch.rope, batch.allowed);
    const torch::Tensor logits = logitsFromHidden(m, hidden);
    const int64_t V = logits.size(-1);
    // Per-target losses (0 at ignored targets), then the weighted mean over the real targets.
    const torch::Tensor perTarget = torch::nn::functional::cross_entropy(
        logits.reshape({-1, V}), batch.targets.reshape({-1}),
        torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kIgnoreTarget).reduction(torch::kNone));
    const torch::Tensor real = batch.targets.reshape({-1}) != kIgnoreTarget;
    const torch::Tensor w = batch.weights.reshape({-1}) * real.to(torch::kFloat32);
    BatchLoss out;
    out.loss = (perTarget * w).sum() / w.sum();
    const torch::Tensor answer = batch.answer.reshape({-1}).logical_and(real).to(torch::kFloat32);
    out.answerLoss = (perTarget.detach() * answer).sum() / answer.sum();  // 0/0 = NaN without answers
    return out;
}

} // namespace detail

double packedLoss(CausalLM &model, const std::vector<PackedRow> &rows, const RopeOverride &shortRope,
                  const RopeOverride &longRope)
{
    const detail::TorchModel &m = model.torchModel();
    return guarded(m.directory, [&] {
        c10::InferenceMode guard;
        const detail::RopeTable s = detail::makeRopeTable(m, shortRope.lambda, shortRope.attentionFactor);
        const detail::RopeTable l = detail::makeRopeTable(m, longRope.lambda, longRope.attentionFactor);
        return detail::batchLoss(m, detail::makeTrainBatch(m, rows, s, l)).loss.item<double>();
    });
}

// ---- the trainer -------------------------------------------------------------------------------

struct Trainer::Impl {
    TrainOptions o;
    std::unique_ptr<CausalLM> model;
    std::unique_ptr<Tokenizer> tokenizer;
    QString tokenizerJson;
    std::unique_ptr<TrainingCorpus> corpus;
    PackingOptions packing;
    RopeOverride shortRope, longRope;
    std::vector<torch::Tensor> params;
    std::unique_ptr<torch::optim::AdamW> optimizer;
    int done = 0;
    double lastGradNorm = 0;
    double lastAnswerLoss = 0;

    QString source() const { return o.initDir.isEmpty() ? o.configSource : o.initDir; }
};

Trainer::Trainer(const TrainOptions &options) : d(std::make_unique<Impl>())
{
    d->o = options;
    const TrainOptions &o = d->o;
    const QString src = d->source();
    const auto bad = [&](const QString &problem) { throw Error(src, problem); };
    if (o.steps < 1 || o.batch < 1 || o.seqLen < 2)
        bad(QStringLiteral("steps and batch must be ≥ 1 and the sequence length ≥ 2"));
    if (!(o.answerWeight > 0) || !std::isfinite(o.answerWeight))
        bad(QStringLiteral("the answer-token loss weight must be a positive number"));
    if (!(o.lr > 0) || !(o.minLrRatio >= 0 && o.minLrRatio <= 1) || o.warmup < 0 || !(o.weightDecay >= 0))
        bad(QStringLiteral("need lr > 0, 0 ≤ min-lr-ratio ≤ 1, warmup ≥ 0 and weight decay ≥ 0"));
    if (o.config.isEmpty() == o.initDir.isEmpty())
        bad(QStringLiteral("give either a config or a model folder to start from"));

    // Tokenizer: the one given, else the starting folder's.
    QString tokPath = o.tokenizerPath.isEmpty() ? o.initDir : o.tokenizerPath;
    if (tokPath.isEmpty())
        bad(QStringLiteral("a tokenizer.json is needed to make the training documents"));
    d->tokenizerJson = QFileInfo(tokPath).isDir() ? ModelFolder(tokPath).file(QStringLiteral("tokenizer.json")) : tokPath;
    int bosId = -1;
    if (o.tokenizerPath.isEmpty()) {
        ModelTokenizer mt = loadModelTokenizer(o.initDir);
        d->tokenizer = std::move(mt.tokenizer);
        bosId = mt.bosId;
    } else {
        d->tokenizer = loadTokenizer(d->tokenizerJson);
        bosId = d->tokenizer->bosId();
    }

    ModelOptions mo;
    mo.device = o.device;
    mo.dtype = QStringLiteral("float32");  // master weights; the models are small
    d->model = o.initDir.isEmpty() ? CausalLM::createRandom(o.config, mo, o.seed, o.configSource) : CausalLM::load(o.initDir, mo);
    detail::TorchModel &m = d->model->torchModel();
    // Refused with the figures before the corpus is made or a row packed (a batch of 2·10⁹ rows
    // would otherwise be assembled for minutes before the first step ran out of memory).
    detail::requireTrainingMemory(m, o.batch, o.seqLen, src);
    // Attention runs in the runtime's chunks (2^22 elements on the CPU, 2^26 on a GPU). Autograd
    // keeps every chunk's scores for the backward pass, so chunking saves no memory here; 2^22
    // also measured fastest for training on 2 cores: 1120 tokens/s on rows of 2048 against 400
    // at 2^25 and 985 at 2^21 (equal at rows of 512).
    if (d->tokenizer->vocabSize() > m.spec.vocabSize)
        throw Error(d->tokenizerJson, QStringLiteral("the tokenizer has %1 tokens but the model's vocabulary only %2")
                                          .arg(d->tokenizer->vocabSize()).arg(m.spec.vocabSize));

    CorpusOptions co = o.corpus;
    co.seed = o.seed;
    co.bosId = bosId;
    const Tokenizer *tok = d->tokenizer.get();
    d->corpus = std::make_unique<TrainingCorpus>([tok](const QString &text) { return tok->encode(text); }, co);

    const int pairs = m.spec.rotaryDims / 2;
    if (o.mixedWindow && o.plainWindow)
        bad(QStringLiteral("choose mixed-window or plain-window fine-tuning, not both"));
    if (o.mixedWindow || o.plainWindow) {
        const RopeConfig &base = m.rope;
        const int trainLength = base.trainLength;
        if (o.seqLen <= trainLength)
            bad(QStringLiteral("the target length %1 must exceed the model's pretraining length %2").arg(o.seqLen).arg(trainLength));
        if (int(o.longFactors.size()) != pairs)
            bad(QStringLiteral("%1 long factors given, the model has %2 rotary pairs (d/2)").arg(o.longFactors.size()).arg(pairs));
        if (!(o.longFraction > 0 && o.longFraction <= 1))
            bad(QStringLiteral("the share of long rows must lie in (0, 1]"));
        LongropeExport ex;
        ex.longFactor = o.longFactors;
        ex.shortFactor = o.plainWindow ? o.longFactors : std::vector<double>(size_t(pairs), 1.0);
        ex.targetLength = o.seqLen;
        ex.attentionFactor = o.attentionFactor;
        ex.form = base.form;
        const QJsonObject exported = exportLongropeConfig(base, ex);
        // Train with exactly the RoPE the runtime will pick from the written config.
        RopeConfig tuned = parseRopeConfig(QJsonDocument(exported).toJson(QJsonDocument::Compact), base.source);
        const std::optional<FactorSet> longSet = configFactors(tuned, o.seqLen);
        const std::optional<FactorSet> shortSet = configFactors(tuned, trainLength);
        d->longRope = {longSet->lambda, longSet->attentionFactor};
        // Plain windows: the config's short factors are the long ones, so short documents get the
        // rescaled RoPE, exactly what the written model runs within L_train.
        d->shortRope = {shortSet->lambda, o.originalShortRope && !o.plainWindow ? 1.0 : shortSet->attentionFactor};
        m.rope = tuned;
        d->packing.rowLength = o.seqLen;
        d->packing.maxShortTokens = trainLength;
        d->packing.minDocTokens = std::clamp(o.minDocTokens, 1, trainLength);
        d->packing.longFraction = o.longFraction;
        d->packing.longMinTokens = trainLength + 1;
    } else {
        d->shortRope = d->model->defaultRope(o.seqLen);
        d->longRope = d->shortRope;
        d->packing.rowLength = o.seqLen;
        d->packing.maxShortTokens = o.seqLen;
        d->packing.minDocTokens = std::clamp(o.minDocTokens, 1, o.seqLen);
    }

    guarded(src, [&] {
        // Trainable float32 leaves; weight decay on matrices and embeddings only (the usual split:
        // decaying norms and biases pulls them towards 0, which is not a prior anyone wants).
        std::vector<torch::Tensor> decay, noDecay;
        std::vector<const void *> seen;
        const auto add = [&](torch::Tensor &t) {
            if (!t.defined())
                return;
            const void *key = t.unsafeGetTensorImpl();
            if (std::find(seen.begin(), seen.end(), key) != seen.end())
                return;  // the tied LM head is the embedding
            seen.push_back(key);
            t.requires_grad_(true);
            (t.dim() >= 2 ? decay : noDecay).push_back(t);
            d->params.push_back(t);
        };
        add(m.embed);
        for (detail::LayerWeights &w : m.layers)
            for (torch::Tensor *t : {&w.inputNorm, &w.postNorm, &w.qkv, &w.qkvBias, &w.o, &w.oBias, &w.gateUp,
                                     &w.gateUpBias, &w.down, &w.downBias})
                add(*t);
        add(m.finalNorm);
        add(m.lmHead);
        const auto groupOptions = [&](double wd) {
            return std::make_unique<torch::optim::AdamWOptions>(
                torch::optim::AdamWOptions(o.lr).betas(std::make_tuple(o.beta1, o.beta2)).eps(1e-8).weight_decay(wd));
        };
        std::vector<torch::optim::OptimizerParamGroup> groups;
        groups.emplace_back(decay, groupOptions(o.weightDecay));
        groups.emplace_back(noDecay, groupOptions(0.0));
        d->optimizer = std::make_unique<torch::optim::AdamW>(std::move(groups), torch::optim::AdamWOptions(o.lr));
        return 0;
    });
}

Trainer::~Trainer() = default;

int Trainer::stepsDone() const { return d->done; }
CausalLM &Trainer::model() { return *d->model; }
const Tokenizer &Trainer::tokenizer() const { return *d->tokenizer; }
const TrainingCorpus &Trainer::corpus() const { return *d->corpus; }
const PackingOptions &Trainer::packing() const { return d->packing; }
RopeOverride Trainer::shortRope() const { return d->shortRope; }
RopeOverride Trainer::longRope() const { return d->longRope; }

double Trainer::learningRate(int step) const
{
    const TrainOptions &o = d->o;
    if (step < o.warmup)
        return o.lr * double(step + 1) / double(o.warmup);
    const double floor = o.lr * o.minLrRatio;
    const int decaySteps = std::max(1, o.steps - o.warmup - 1);
    const double progress = std::clamp(double(step - o.warmup) / decaySteps, 0.0, 1.0);
    return floor + 0.5 * (o.lr - floor) * (1.0 + std::cos(M_PI * progress));
}

std::vector<PackedRow> Trainer::batchRows(int batchIndex) const
{
    std::vector<PackedRow> rows;
    for (int b = 0; b < d->o.batch; ++b)
        rows.push_back(packRow(*d->corpus, uint64_t(batchIndex) * uint64_t(d->o.batch) + uint64_t(b), d->packing));
    return rows;
}

double Trainer::loss(const std::vector<PackedRow> &rows)
{
    return packedLoss(*d->model, rows, d->shortRope, d->longRope);
}

double Trainer::step()
{
    const std::vector<PackedRow> rows = batchRows(d->done);
    const detail::TorchModel &m = d->model->torchModel();
    const double lr = learningRate(d->done);
    double gradNorm = 0, answerLoss = 0;
    const double loss = guarded(d->source(), [&] {
        for (torch::optim::OptimizerParamGroup &g : d->optimizer->param_groups())
            static_cast<torch::optim::AdamWOptions &>(g.options()).lr(lr);
        d->optimizer->zero_grad();
        const detail::RopeTable s = detail::makeRopeTable(m, d->shortRope.lambda, d->shortRope.attentionFactor);
        const detail::RopeTable l = detail::makeRopeTable(m, d->longRope.lambda, d->longRope.attentionFactor);
        const detail::TrainBatch batch = detail::makeTrainBatch(m, rows, s, l, d->o.answerWeight);
        const detail::BatchLoss losses = detail::batchLoss(m, batch);
        torch::Tensor lossTensor = losses.loss;
        lossTensor.backward();
        // An infinite limit measures the norm without scaling anything.
        const double limit = d->o.clip > 0 ? d->o.clip : std::numeric_limits<double>::infinity();
        gradNorm = torch::nn::utils::clip_grad_norm_(d->params, limit);
        d->optimizer->step();
        answerLoss = losses.answerLoss.item<double>();
        return lossTensor.item<double>();
    });
    if (!std::isfinite(loss))
        throw Error(d->source(), QStringLiteral("the loss became %1 at step %2 (lower the learning rate?)").arg(loss).arg(d->done + 1));
    d->lastGradNorm = gradNorm;
    d->lastAnswerLoss = answerLoss;
    ++d->done;
    return loss;
}

TrainResult Trainer::run(const Progress &progress, const std::atomic<bool> *cancel)
{
    TrainResult r;
    QElapsedTimer clock;
    clock.start();
    int64_t tokens = 0;
    while (d->done < d->o.steps) {
        if (cancel && cancel->load()) {
            r.cancelled = true;
            break;
        }
        const double lr = learningRate(d->done);
        const double loss = step();
        r.losses.push_back(loss);
        tokens += int64_t(d->o.batch) * d->o.seqLen;
        r.seconds = clock.nsecsElapsed() / 1e9;
        r.tokensPerSecond = r.seconds > 0 ? double(tokens) / r.seconds : 0;
        if (progress) {
            TrainProgress p;
            p.step = d->done;
            p.steps = d->o.steps;
            p.loss = loss;
            p.lr = lr;
            p.gradNorm = d->lastGradNorm;
            p.answerLoss = d->lastAnswerLoss;
            p.tokens = tokens;
            p.seconds = r.seconds;
            p.tokensPerSecond = r.tokensPerSecond;
            progress(p);
        }
    }
    r.steps = d->done;
    return r;
}

void Trainer::save(const QString &dir, const QString &dtype, bool replace) const
{
    CheckpointOptions c;
    c.dtype = dtype;
    c.tokenizerJson = d->tokenizerJson;
    c.replace = replace;
    saveCheckpoint(*d->model, dir, c);
}

} // namespace rs
