// Stands in for LibTorch's <ATen/core/Tensor.h> in the parts that must never include LibTorch (rope, search,
// worker, widgets, app): their include path puts this folder first. DESIGN.md §2.
#error "LibTorch header <ATen/core/Tensor.h> included in a part that must not use LibTorch: keep tensors in core/runtime, core/eval or core/train .cpp files and *_p.h headers"
