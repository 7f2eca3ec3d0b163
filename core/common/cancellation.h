#pragma once
// Part common (core/common, ropescope_common): cancellation that reaches inside a computation.
// Header-only, plain C++ (no Qt needed). May use nothing else.
//
// Whoever starts a long computation on a thread installs a check for that thread (CancelScope);
// the computation calls checkCancelled() at its cancellation points (the model's forward does so
// between layers, between attention chunks and between chunks of token-wise work), which throws
// rs::Cancelled once the check says stop. A forward over a million tokens thus gives up within one
// chunk instead of running to its end, and whoever installed the check catches rs::Cancelled and
// goes idle. Scopes nest: the inner check replaces the outer one until the scope ends (a score
// served between two evaluations of a search has its own reasons to stop). A thread without a
// scope is never cancelled.
//
// Cancelled is not an rs::Error: it is no failure to report, and `catch (const rs::Error &)` lets
// it pass to the one who asked for it.
#include <atomic>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <utility>

namespace rs {

class Cancelled : public std::exception {
public:
    explicit Cancelled(std::string where) : m_where(std::move(where)) {}
    const char *what() const noexcept override { return "cancelled"; }
    // The cancellation point that noticed it, e.g. "layer 2 of 3, attention chunk 5".
    const std::string &where() const { return m_where; }

private:
    std::string m_where;
};

using CancelCheck = std::function<bool()>;

namespace detail {
inline thread_local const CancelCheck *tlsCancelCheck = nullptr;
// Cancellation points visited, all threads together: a test's proof that a computation is inside
// its forward (it grows while one runs) before it asks for the stop.
inline std::atomic<unsigned long long> cancellationPointsVisited{0};
inline std::atomic<unsigned long long> cancellationsThrown{0};
inline std::mutex lastCancellationMutex;
inline std::string lastCancellation;
} // namespace detail

// Installs `check` for this thread for the scope's lifetime. An empty check cancels nothing (and
// hides an outer one: a computation that must not be cut short can say so).
class CancelScope {
public:
    explicit CancelScope(CancelCheck check) : m_check(std::move(check)), m_outer(detail::tlsCancelCheck)
    {
        detail::tlsCancelCheck = &m_check;
    }
    ~CancelScope() { detail::tlsCancelCheck = m_outer; }
    CancelScope(const CancelScope &) = delete;
    CancelScope &operator=(const CancelScope &) = delete;

private:
    CancelCheck m_check;
    const CancelCheck *m_outer;
};

// The check installed on this thread (empty when none): to carry it onto helper threads that
// compute a share of the same work.
inline CancelCheck currentCancelCheck()
{
    return detail::tlsCancelCheck ? *detail::tlsCancelCheck : CancelCheck{};
}

inline bool cancellationRequested()
{
    const CancelCheck *check = detail::tlsCancelCheck;
    return check && *check && (*check)();
}

// A cancellation point: throws rs::Cancelled naming `where` when this thread's check says stop.
// `where` is only built then, so a point costs a thread-local read and the check's own cost.
template <typename Where>
inline void checkCancelled(Where &&where)
{
    detail::cancellationPointsVisited.fetch_add(1, std::memory_order_relaxed);
    if (!cancellationRequested())
        return;
    std::string at(std::forward<Where>(where)());
    {
        const std::lock_guard<std::mutex> lock(detail::lastCancellationMutex);
        detail::lastCancellation = at;
    }
    detail::cancellationsThrown.fetch_add(1);
    throw Cancelled(std::move(at));
}

// How many rs::Cancelled cancellation points have thrown, all threads together.
inline unsigned long long cancellationsThrown() { return detail::cancellationsThrown.load(); }

// Where the last rs::Cancelled of any thread was thrown (empty before the first): what a test
// reads to see that a stop came from inside a forward.
inline std::string lastCancellationPoint()
{
    const std::lock_guard<std::mutex> lock(detail::lastCancellationMutex);
    return detail::lastCancellation;
}

inline unsigned long long cancellationPointsVisited()
{
    return detail::cancellationPointsVisited.load(std::memory_order_relaxed);
}

} // namespace rs
