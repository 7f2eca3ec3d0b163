#pragma once
// Part runtime (core/runtime, ropescope_runtime): a loaded model's figures for the one estimate of
// what a forward costs (common/forwardcost.h). Plain types only.
//
// CausalLM::forwardBytes, forwardFlops and requireMemoryFor are computed from these same figures,
// so a price the GUI shows before a start and the refusal the model gives agree.
#include "common/forwardcost.h"

namespace rs {

class CausalLM;

// The model's figures on its device: weights, the device's memory, bytes per token and per chunk
// of a forward, FLOPs per token and per attended key (runtime/modelmemory.cpp).
ForwardCostFigures costFigures(const CausalLM &model);

} // namespace rs
