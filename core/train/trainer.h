#pragma once
// Part train (core/train, ropescope_train): pretraining and mixed-context-window fine-tuning,
// writing Hugging Face folders. May use eval, runtime, rope, common and LibTorch in its .cpp files
// and trainer_p.h; never search or worker.
//
// Pretraining tiny Llama-family models from scratch and LongRoPE2-style mixed context window
// fine-tuning (paper §3.3); it saves its model with runtime/checkpoint.h, whose folders
// CausalLM::load reads back.
//
//  - Corpus: documents of an exact token length, deterministic in (seed, index, length): built-in
//    English-like prose (needle.h's filler grammar) or a user corpus (needle.h's Haystack), a share
//    of them carrying a needle in exactly the evaluation template (NeedleBuilder) at a random depth,
//    so that a model learns the retrieval the needle-driven perplexity scores.
//  - Packing: rows of a fixed length made of whole documents; every document restarts its positions
//    at 0 and attends only to itself (block-diagonal causal mask). In mixed-window rows, documents
//    longer than L_train use the rescaled RoPE (long factors + attention factor), the others the
//    short (original, λ = 1) RoPE.
//  - Training: AdamW, linear warmup + cosine decay to a floor, gradient clipping, next-token
//    cross-entropy within each document; float32 master weights; deterministic for a seed on CPU.
//
// Plain C++/Qt types only: LibTorch stays in trainer.cpp.
#include "runtime/checkpoint.h"
#include "runtime/model.h"

#include <QJsonObject>
#include <QString>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace rs {

class Tokenizer;

// ---- corpus ------------------------------------------------------------------------------------

struct CorpusOptions {
    QString path;                 // folder of .txt or .jsonl (Haystack::fromPath); empty: built-in prose
    double needleFraction = 0.5;  // share of documents (long enough for the template) that carry a needle
    // Share of the needle documents written as a retrieval drill instead of the evaluation template
    // (and every needle document too short for the template; see needleDocumentTokens()):
    // up to four needles with distinct keys in the filler, then the template question's final
    // sentence ("The special magic number for KEY mentioned in the provided text is") for each key
    // in shuffled order, each followed by its value. Three to four times the answers per token of
    // the template, and the distinct keys make a model look the right one up rather than copy the
    // only number in sight.
    double drillFraction = 0.0;
    uint64_t seed = 0;
    int bosId = -1;               // prepended to every document when ≥ 0
};

struct TrainDocument {
    std::vector<int> ids;      // exactly the requested length
    bool hasNeedle = false;
    QString key, value;        // the needle's key and value (hasNeedle)
    int needlePosition = -1;   // index of the needle sentence's first token
    std::vector<int> answerPositions;  // indices of the value tokens after the question(s)
    int needleCount = 0;       // needles in the document (several in a drill)
};

class TrainingCorpus {
public:
    using Encoder = std::function<std::vector<int>(const QString &)>;
    // Throws rs::Error naming the corpus path when it cannot be read.
    TrainingCorpus(Encoder encode, const CorpusOptions &options);

    // Document `index` of exactly `length` tokens (≥ 1), deterministic in (seed, index, length):
    // with `needle` and length ≥ needleTemplateTokens(), the needle template at a random depth
    // (NeedleBuilder, so exactly what the evaluation scores); else plain text.
    TrainDocument document(uint64_t index, int length, bool needle) const;
    double needleFraction() const { return m_options.needleFraction; }
    // Tokens the needle template needs without filler (the longest key), BOS included.
    int needleTemplateTokens() const { return m_needleTokens; }
    // The shortest needle document: the template's length, or with drills (drillFraction > 0) the
    // length of a one-needle drill, which every needle document too short for the template becomes.
    int needleDocumentTokens() const;
    QString description() const;

private:
    // The drill form of a needle document (CorpusOptions::drillFraction); false when not even one
    // needle and its question fit in `length`.
    bool drillDocument(uint64_t seed, int length, TrainDocument *doc) const;

    Encoder m_encode;
    CorpusOptions m_options;
    std::shared_ptr<const void> m_haystack;  // a Haystack (needle.h), kept opaque here
    int m_needleTokens = 0;
    int m_drillTokens = 0;
};

// One document inside a packed row.
struct DocSpan {
    int start = 0;
    int length = 0;
    bool longRope = false;  // rescaled RoPE (longer than L_train in a mixed-window row)
};

struct PackedRow {
    std::vector<int> ids;        // exactly the row length
    std::vector<DocSpan> docs;   // in order, covering the row
    std::vector<int> answerPositions;  // row indices of the needle answers' tokens, in order
};

struct PackingOptions {
    int rowLength = 512;
    int minDocTokens = 64;      // shortest document
    int maxShortTokens = 512;   // longest short document (L_train in mixed-window rows; ≤ rowLength)
    // Mixed-window rows only (longFraction > 0): the share of rows made of long documents only
    // (each longMinTokens … rowLength tokens, longMinTokens > maxShortTokens); the other rows are
    // packed with short documents. So longFraction is also the expected share of tokens in long
    // documents, the same for mixed and plain windows.
    double longFraction = 0.0;
    int longMinTokens = 0;
};

// Row `rowIndex` of the packed stream, deterministic in (corpus seed, rowIndex, options).
// Throws rs::Error for inconsistent options.
PackedRow packRow(const TrainingCorpus &corpus, uint64_t rowIndex, const PackingOptions &options);

// ---- training ----------------------------------------------------------------------------------

struct TrainOptions {
    // The model: a config.json object (fresh weights) or an HF folder to start from.
    QJsonObject config;
    QString configSource = QStringLiteral("(config)");  // names the config in errors
    QString initDir;
    QString tokenizerPath;   // tokenizer.json (or a folder with one); default: initDir's
    QString device = QStringLiteral("cpu");

    int steps = 200;
    int batch = 8;
    int seqLen = 512;        // row length (the target length when mixedWindow)
    double lr = 1e-3;
    double minLrRatio = 0.1; // the cosine decays to lr · minLrRatio
    int warmup = 20;
    double weightDecay = 0.1;  // on matrices and embeddings, not on norms and biases
    double clip = 1.0;         // max global gradient norm; ≤ 0 disables clipping
    double beta1 = 0.9, beta2 = 0.95;
    uint64_t seed = 0;

    CorpusOptions corpus;      // its seed is replaced by `seed`
    int minDocTokens = 64;
    // Loss weight of the needle answer tokens relative to every other token. A needle's 7 answer
    // digits are about 1 % of a 512-token row; at weight 1 their gradient drowns in the prose's and
    // a small model never forms the retrieval circuit, so the embedded model's recipe raises it.
    double answerWeight = 1.0;

    // Mixed context window fine-tuning: rows of seqLen = target length; long documents use
    // longFactors (d/2 values) and the attention factor (default: transformers' longrope value
    // sqrt(1 + ln s / ln L_train)); L_train is the starting model's.
    bool mixedWindow = false;
    std::vector<double> longFactors;
    std::optional<double> attentionFactor;
    double longFraction = 0.5;
    // Short documents: by default they get exactly what the runtime (transformers' longrope) uses
    // for sequences within L_train: λ = 1 and the config's attention factor, which transformers
    // applies to both paths. originalShortRope keeps them on the untouched pretraining RoPE
    // (attention factor 1), the paper's literal wording.
    bool originalShortRope = false;
    // Plain long-window fine-tuning, the ablation of mixedWindow (and how PI, NTK, YaRN and LongRoPE
    // v1 are fine-tuned): exactly the rows mixedWindow packs from the same seed, but every document,
    // short ones included, uses the rescaled RoPE, and the written config applies the factors at
    // every length (short_factor = long_factor), as a static PI or YaRN scaling does. So the two
    // differ only in the RoPE of the short documents. Needs what mixedWindow needs; not both.
    bool plainWindow = false;
};

struct TrainProgress {
    int step = 0;            // 1-based, steps done
    int steps = 0;
    double loss = 0;         // this step's mean next-token loss (answer tokens weighted by answerWeight)
    double answerLoss = 0;   // this step's mean loss on needle answer tokens (NaN when the batch has none)
    double lr = 0;
    double gradNorm = 0;     // before clipping
    double tokensPerSecond = 0;  // row tokens per second since the start
    int64_t tokens = 0;      // row tokens so far
    double seconds = 0;
};

struct TrainResult {
    int steps = 0;
    bool cancelled = false;
    std::vector<double> losses;   // per step
    double tokensPerSecond = 0;
    double seconds = 0;
};

class Trainer {
public:
    using Progress = std::function<void(const TrainProgress &)>;

    // Builds or loads the model (float32 on the device), the tokenizer, the corpus and the
    // optimizer. Throws rs::Error naming the file or setting at fault.
    explicit Trainer(const TrainOptions &options);
    ~Trainer();
    Trainer(const Trainer &) = delete;
    Trainer &operator=(const Trainer &) = delete;

    // Runs the remaining steps; stops early (result.cancelled) when `cancel` becomes true.
    TrainResult run(const Progress &progress = {}, const std::atomic<bool> *cancel = nullptr);
    // One optimizer step on the next batch; returns its loss.
    double step();
    int stepsDone() const;
    // The learning rate of step `step` (0-based): linear warmup to lr, cosine to lr · minLrRatio.
    double learningRate(int step) const;

    // The rows of batch `batchIndex` (what step batchIndex trains on).
    std::vector<PackedRow> batchRows(int batchIndex) const;
    // Mean next-token loss (within documents) on `rows`, no gradients.
    double loss(const std::vector<PackedRow> &rows);
    // Saves the model (the longrope config when mixedWindow or plainWindow) with the tokenizer.json
    // (saveCheckpoint; `replace`: CheckpointOptions::replace).
    void save(const QString &dir, const QString &dtype = QStringLiteral("float32"), bool replace = false) const;

    CausalLM &model();
    const Tokenizer &tokenizer() const;
    const TrainingCorpus &corpus() const;
    const PackingOptions &packing() const;
    // The RoPE of short and long documents (identity / unused long outside mixed windows).
    RopeOverride shortRope() const;
    RopeOverride longRope() const;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

// Mean next-token loss of `model` on packed rows, each document predicted only from itself, with
// the given RoPE for short and long documents. No gradients.
double packedLoss(CausalLM &model, const std::vector<PackedRow> &rows, const RopeOverride &shortRope,
                  const RopeOverride &longRope);

} // namespace rs
