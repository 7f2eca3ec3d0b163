// The memory of one training step, estimated from the model's shapes (trainer_p.h).
#include "train/trainer_p.h"

#include "common/error.h"

namespace rs::detail {

void requireTrainingMemory(const TorchModel &m, int batch, int seqLen, const QString &source)
{
    // Counted in double: no batch or length can overflow it. Like the runtime's forward estimate it
    // errs low: it counts what certainly lives at the step's peak, not the allocator's slack.
    const ModelSpec &s = m.spec;
    const double B = batch, T = seqLen, e = 4;  // training runs in float32
    const double weights = double(weightBytes(m));
    const double state = 3 * weights;  // the gradients and AdamW's two moments
    const double q = double(s.numHeads) * s.headDim, kv = double(s.numKvHeads) * s.headDim;
    // Kept by autograd for the backward pass, per token and layer: the layer's input, both norms'
    // outputs, q/k/v, the rotated q and k, the attention output, the o projection, the gate/up
    // projection and its activation; and per layer the attention scores and their softmax, kept
    // whole (chunking saves nothing once every chunk is kept).
    const double perTokenLayer = e * (4.0 * s.hiddenSize + (q + 2 * kv) + (q + kv) + q + 3.0 * s.intermediateSize);
    const double scoresPerLayer = B * double(s.numHeads) * T * T * 2 * e;
    const double logits = B * T * double(s.vocabSize) * 4.0 * 2;  // float32 logits and their log-softmax
    const double activations = double(s.numLayers) * (B * T * perTokenLayer + scoresPerLayer) + logits + B * T * T;  // + the mask
    const double rows = B * T * 16;  // the packed rows on the host: ids, targets, weights, documents
    requireMemory(m, source,
                  QStringLiteral("a training step over %1 of %2 tokens (weights %3 GiB, gradients and optimizer state "
                                 "%4 GiB, activations %5 GiB)")
                      .arg(batch == 1 ? QStringLiteral("1 row") : QStringLiteral("%1 rows").arg(batch))
                      .arg(seqLen)
                      .arg(gibText(weights), gibText(state), gibText(activations)),
                  weights + state + activations, rows);
}

} // namespace rs::detail
