// The BPE model: a word's ids by applying the merges in rank order, with byte fallback and unknown
// tokens, and a cache of words that concurrent encodes share.
#include "runtime/tokenizer/tokenizer_p.h"

#include <algorithm>
#include <queue>

namespace rs::tokenizer_detail {

// ------------------------------------------------------------------------------------------------
// The BPE model

struct Bpe::Symbol {
    int id;
    int prev, next;
    int len;   // bytes of the word it covers; 0 once merged away
};

struct Bpe::QueueItem {
    int rank;
    int pos;
    int newId;
    bool operator<(const QueueItem &o) const   // std::priority_queue is a max-heap: invert
    {
        return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
};

std::vector<int> Bpe::tokenize(const std::string &word) const
{
    if (word.empty())
        return {};
    {
        std::lock_guard<std::mutex> lock(cacheMutex);
        const auto it = cache.find(word);
        if (it != cache.end())
            return it->second;
    }
    std::vector<int> ids = tokenizeUncached(word);
    {
        std::lock_guard<std::mutex> lock(cacheMutex);
        if (cache.size() >= kCacheCapacity)
            cache.clear();
        cache.emplace(word, ids);
    }
    return ids;
}

std::vector<int> Bpe::tokenizeUncached(const std::string &word) const
{
    if (ignoreMerges) {
        const int id = lookup(word);
        if (id >= 0)
            return {id};
    }
    std::vector<Symbol> symbols;
    symbols.reserve(word.size());
    auto add = [&](int id, int len) {
        const int n = int(symbols.size());
        symbols.push_back({id, n - 1, -1, len});
        if (n > 0)
            symbols[size_t(n - 1)].next = n;
    };
    int pendingUnkId = -1, pendingUnkLen = 0;
    std::string s;
    for (size_t i = 0; i < word.size();) {
        const int len = std::min<int>(utf8Length(uchar(word[i])), int(word.size() - i));
        const bool isFirst = i == 0, isLast = i + size_t(len) >= word.size();
        s.assign(word, i, size_t(len));
        if (!isFirst && !prefix.empty()) s.insert(0, prefix);
        if (isLast && !suffix.empty()) s.append(suffix);
        i += size_t(len);
        const int id = lookup(s);
        if (id >= 0) {
            if (pendingUnkId >= 0) {
                add(pendingUnkId, pendingUnkLen);
                pendingUnkId = -1;
            }
            add(id, len);
            continue;
        }
        if (byteFallback) {
            bool all = true;
            for (unsigned char b : s)
                if (byteTokenId[b] < 0) { all = false; break; }
            if (all) {
                for (unsigned char b : s) add(byteTokenId[b], 1);
                continue;
            }
        }
        if (unkId >= 0) {
            if (pendingUnkId >= 0 && fuseUnk) {
                pendingUnkLen += len;
            } else {
                if (pendingUnkId >= 0) add(pendingUnkId, pendingUnkLen);
                pendingUnkId = unkId;
                pendingUnkLen = len;
            }
        }
    }
    if (pendingUnkId >= 0)
        add(pendingUnkId, pendingUnkLen);

    if (symbols.size() > 1 && !merges.empty()) {
        std::priority_queue<QueueItem> queue;
        for (size_t k = 0; k + 1 < symbols.size(); ++k) {
            const auto it = merges.find(pairKey(symbols[k].id, symbols[k + 1].id));
            if (it != merges.end())
                queue.push({it->second.rank, int(k), it->second.newId});
        }
        while (!queue.empty()) {
            const QueueItem top = queue.top();
            queue.pop();
            Symbol &cur = symbols[size_t(top.pos)];
            if (cur.len == 0 || cur.next < 0)
                continue;
            const int nextPos = cur.next;
            const Symbol right = symbols[size_t(nextPos)];
            const auto it = merges.find(pairKey(cur.id, right.id));
            if (it == merges.end() || it->second.newId != top.newId)
                continue;   // stale entry
            cur.id = top.newId;
            cur.len += right.len;
            cur.next = right.next;
            symbols[size_t(nextPos)].len = 0;
            if (right.next >= 0)
                symbols[size_t(right.next)].prev = top.pos;
            if (cur.prev >= 0) {
                const auto p = merges.find(pairKey(symbols[size_t(cur.prev)].id, cur.id));
                if (p != merges.end())
                    queue.push({p->second.rank, cur.prev, p->second.newId});
            }
            if (cur.next >= 0) {
                const auto n = merges.find(pairKey(cur.id, symbols[size_t(cur.next)].id));
                if (n != merges.end())
                    queue.push({n->second.rank, top.pos, n->second.newId});
            }
        }
    }
    std::vector<int> ids;
    ids.reserve(symbols.size());
    for (const Symbol &sym : symbols)
        if (sym.len != 0)
            ids.push_back(sym.id);
    return ids;
}

} // namespace rs::tokenizer_detail
