#pragma once
// Core-internal: the LibTorch side of the trainer (trainer.h), for its tests. Include before any
// Qt header that could define `slots` (see model_p.h).
#include "runtime/model_p.h"
#include "train/trainer.h"

namespace rs::detail {

// Packed rows as tensors: ids [B, T] int64; targets [B, T] int64, the next token within the same
// document, kIgnoreTarget at each document's last token; positions [B, T] restarting at 0 per
// document; allowed [B, T, T] bool, causal within each document and false across documents;
// rope: cos/sin [B, T, d], each document's piece from the short or the long table, concatenated
// along T.
// weights [B, T] float32: the loss weight of each target (answerWeight where the target is a
// needle answer token, else 1); answer [B, T] bool marks those targets.
struct TrainBatch {
    torch::Tensor ids, targets, positions, allowed, weights, answer;
    RotaryCache rope;
};
// The batch loss: the weighted mean next-token cross-entropy (differentiable when grad mode is on)
// and the unweighted mean over the answer targets alone (NaN when there are none).
struct BatchLoss {
    torch::Tensor loss;
    torch::Tensor answerLoss;
};
constexpr int64_t kIgnoreTarget = -100;

// Throws rs::Error when rows are empty, of unequal length, or their spans do not tile the row.
TrainBatch makeTrainBatch(const TorchModel &m, const std::vector<PackedRow> &rows, const RopeTable &shortTable,
                          const RopeTable &longTable, double answerWeight = 1.0);
BatchLoss batchLoss(const TorchModel &m, const TrainBatch &batch);

// Refuses (rs::MemoryError, with the figures) a step of `batch` rows of `seqLen` tokens that this
// machine cannot hold: the float32 weights, their gradients and AdamW's moments, and what autograd
// keeps for the backward pass. `source` names the model (the config or the starting folder).
void requireTrainingMemory(const TorchModel &m, int batch, int seqLen, const QString &source);

} // namespace rs::detail
