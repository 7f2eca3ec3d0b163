// The model against the machine: what the machine has (CUDA devices, physical memory, a GPU's
// total memory), what a model needs (its weights' parameters and bytes, a forward's activations,
// its FLOPs), the refusals, with figures, of what cannot fit before anything is allocated, and the
// CUDA allocator's peak statistics. The CUDA-only parts compile where CMake found their headers
// (ROPESCOPE_CUDA_MEMORY_STATS, ROPESCOPE_CUDA_MEMINFO in CMakeLists.txt).
#include "runtime/modelimpl_p.h"
#include "runtime/modelcost.h"

#ifdef ROPESCOPE_CUDA_MEMORY_STATS
#include <c10/cuda/CUDACachingAllocator.h>
#endif
#ifdef ROPESCOPE_CUDA_MEMINFO
#include <cuda_runtime_api.h>
#endif

#include <algorithm>
#include <cmath>

#ifdef Q_OS_UNIX
#include <unistd.h>
#endif

namespace rs {

bool cudaAvailable()
{
    return torch::cuda::is_available();
}

int cudaDeviceCount()
{
    return cudaAvailable() ? int(torch::cuda::device_count()) : 0;
}

int64_t physicalMemoryBytes()
{
#ifdef Q_OS_UNIX
    static const int64_t bytes = [] {
        const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
        return pages > 0 && pageSize > 0 ? int64_t(pages) * int64_t(pageSize) : int64_t(0);
    }();
    return bytes;
#else
    return 0;
#endif
}

namespace detail {

QString gibText(double bytes)
{
    const double gib = bytes / double(int64_t(1) << 30);
    if (gib < 100)
        return QString::number(gib, 'f', 1);
    return gib < 1e7 ? QString::number(std::llround(gib)) : QString::number(gib, 'g', 3);
}

// Total memory of a device: physical memory for the CPU, the GPU's for CUDA (0 when this build
// cannot ask: then only an allocation failure tells).
int64_t deviceMemoryBytes(const torch::Device &device)
{
    if (device.is_cpu())
        return physicalMemoryBytes();
#ifdef ROPESCOPE_CUDA_MEMINFO
    cudaDeviceProp properties;
    if (cudaGetDeviceProperties(&properties, device.index()) == cudaSuccess)
        return int64_t(properties.totalGlobalMem);
#endif
    return 0;
}

void requireMemory(const TorchModel &m, const QString &source, const QString &what, double deviceBytes, double hostBytes)
{
    const bool cpu = m.device.is_cpu();
    const double onDevice = cpu ? deviceBytes + hostBytes : deviceBytes;
    const int64_t deviceHas = cpu ? physicalMemoryBytes() : m.deviceMemory;
    if (deviceHas > 0 && onDevice > double(deviceHas)) {
        if (cpu)
            throw MemoryError(source, QStringLiteral("%1 needs ~%2 GiB of memory, this machine has %3 GiB")
                                          .arg(what, gibText(onDevice), gibText(double(deviceHas))));
        throw MemoryError(source, QStringLiteral("%1 needs ~%2 GiB on %3, which has %4 GiB")
                                .arg(what, gibText(onDevice), QString::fromStdString(m.device.str()), gibText(double(deviceHas))));
    }
    const int64_t hostHas = physicalMemoryBytes();
    if (!cpu && hostHas > 0 && hostBytes > double(hostHas))
        throw MemoryError(source, QStringLiteral("%1 needs ~%2 GiB of host memory, this machine has %3 GiB")
                                .arg(what, gibText(hostBytes), gibText(double(hostHas))));
}

void requireWeightMemory(const TorchModel &m, const ModelSpec &s, const QString &source)
{
    const double parameters = parameterCount(s);
    requireMemory(m, source, QStringLiteral("a %1 model with these shapes (%2 parameters in %3)")
                                 .arg(s.architecture, QString::number(parameters, 'g', 3), dtypeName(m.dtype)),
                  parameters * double(c10::elementSize(m.dtype)), 0);
}

namespace {

// The figures common/forwardcost.h computes a forward's bytes and FLOPs from.
ForwardCostFigures costFigures(const TorchModel &m)
{
    const ModelSpec &s = m.spec;
    const double e = double(c10::elementSize(m.dtype));
    const double H = s.hiddenSize, I = s.intermediateSize;
    const double q = double(s.numHeads) * s.headDim, kv = double(s.numKvHeads) * s.headDim;
    ForwardCostFigures f;
    f.device = QString::fromStdString(m.device.str());
    f.weightBytes = double(weightBytes(m));
    f.deviceBytes = double(m.device.is_cpu() ? physicalMemoryBytes() : m.deviceMemory);
    f.hostBytes = double(physicalMemoryBytes());
    // Alive together once a layer's attention has run: the residual stream, q/k/v, the rotated q
    // and k, the attention output and the rotary cos and sin; and the token ids and positions.
    f.bytesPerToken = e * (H + (q + 2 * kv) + (q + kv) + q + 2.0 * s.rotaryDims) + 16;
    // One chunk of attention scores (with their float32 softmax) and one of token-wise intermediates.
    f.attentionChunkElements = double(m.attentionChunkElements);
    f.scoreBytesPerElement = 4 + e;
    f.heads = s.numHeads;
    f.tokenwiseChunkElements = double(m.tokenwiseChunkElements);
    f.tokenwiseWidth = std::max(2.0 * I, q + 2 * kv);
    f.elementBytes = e;
    f.flopsPerToken = (2 * H * (q + 2 * kv) + 2 * q * H + 2 * 3 * H * I) * s.numLayers;
    // QKᵀ and PV each cost 2·q FLOPs per key a query sees.
    f.attentionFlopsPerKey = 4 * q;
    for (const int w : s.slidingWindow)
        f.slidingWindow.push_back(double(w));
    f.headFlopsPerRow = 2 * H * double(s.vocabSize);
    return f;
}

} // namespace

double forwardBytes(const TorchModel &m, double tokens, double rows)
{
    return rs::forwardBytes(costFigures(m), tokens, rows);
}

int64_t weightBytes(const TorchModel &m)
{
    int64_t bytes = 0;
    const auto add = [&](const torch::Tensor &t) {
        if (t.defined())
            bytes += t.numel() * int64_t(t.element_size());
    };
    add(m.embed);
    for (const LayerWeights &w : m.layers)
        for (const torch::Tensor *t : {&w.inputNorm, &w.postNorm, &w.qkv, &w.qkvBias, &w.o, &w.oBias, &w.gateUp,
                                       &w.gateUpBias, &w.down, &w.downBias})
            add(*t);
    add(m.finalNorm);
    if (m.lmHead.defined() && !m.lmHead.is_same(m.embed))
        add(m.lmHead);
    return bytes;
}

double parameterCount(const ModelSpec &s)
{
    const double V = s.vocabSize, H = s.hiddenSize, I = s.intermediateSize;
    const double q = double(s.numHeads) * s.headDim, kv = double(s.numKvHeads) * s.headDim;
    double perLayer = 2 * H + (q + 2 * kv) * H + H * q + 3 * H * I;
    if (s.qkvBias)
        perLayer += q + 2 * kv;
    if (s.oBias)
        perLayer += H;
    if (s.mlpBias)
        perLayer += 2 * I + H;
    return V * H * (s.tiedEmbeddings ? 1 : 2) + double(s.numLayers) * perLayer + H;
}

} // namespace detail

void CausalLM::Impl::requireForward(double tokens, double rows, double hostBytes) const
{
    const double weights = double(detail::weightBytes(m));
    const double activations = detail::forwardBytes(m, tokens, rows);
    QString what = rows > 1 ? QStringLiteral("a forward over %1 tokens in %2 rows").arg(tokens, 0, 'f', 0).arg(rows, 0, 'f', 0)
                            : QStringLiteral("a forward over %1 tokens").arg(tokens, 0, 'f', 0);
    what += QStringLiteral(" (weights %1 GiB, activations %2 GiB").arg(detail::gibText(weights), detail::gibText(activations));
    if (hostBytes > 0)
        what += QStringLiteral(", samples %1 GiB").arg(detail::gibText(hostBytes));
    detail::requireMemory(m, m.directory, what + QLatin1Char(')'), weights + activations, hostBytes);
}

double CausalLM::forwardFlops(int64_t tokens, int64_t headRows) const
{
    return rs::forwardFlops(costFigures(*this), double(tokens), double(headRows));
}


int64_t CausalLM::weightBytes() const
{
    return detail::weightBytes(d->m);
}

double CausalLM::forwardBytes(int64_t tokens, int64_t rows) const
{
    return detail::forwardBytes(d->m, double(tokens), double(rows));
}

void CausalLM::requireMemoryFor(int64_t tokens, int64_t rows, double hostBytes) const
{
    d->requireForward(double(tokens), double(rows), hostBytes);
}

ForwardCostFigures costFigures(const CausalLM &model)
{
    return detail::costFigures(model.torchModel());
}

int64_t CausalLM::peakDeviceMemory() const
{
#ifdef ROPESCOPE_CUDA_MEMORY_STATS
    if (d->m.device.is_cuda())
        return c10::cuda::CUDACachingAllocator::getDeviceStats(d->m.device.index()).allocated_bytes[0].peak;
#endif
    return -1;
}

void CausalLM::resetPeakDeviceMemory()
{
#ifdef ROPESCOPE_CUDA_MEMORY_STATS
    if (d->m.device.is_cuda())
        c10::cuda::CUDACachingAllocator::resetPeakStats(d->m.device.index());
#endif
}

} // namespace rs
