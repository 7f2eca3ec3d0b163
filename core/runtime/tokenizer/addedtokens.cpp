// Added tokens: splitting them out of the input before the rest of the pipeline runs.
#include "runtime/tokenizer/tokenizer_p.h"

#include <algorithm>

namespace rs::tokenizer_detail {

// ------------------------------------------------------------------------------------------------
// Added tokens: leftmost-longest matching, like tokenizers' aho-corasick automaton

void AddedMatcher::add(const QString &pattern, int tokenIndex)
{
    if (pattern.isEmpty())
        return;
    m_byFirst[pattern[0].unicode()].push_back({pattern, tokenIndex});
}

// Longest first, ties in the order added: the leftmost-longest match is the first that fits. One
// sort per bucket (Gemma 3 has 6,415 added tokens, most starting with '<').
void AddedMatcher::finish()
{
    for (auto &bucket : m_byFirst)
        std::stable_sort(bucket.begin(), bucket.end(),
                         [](const Entry &a, const Entry &b) { return a.pattern.size() > b.pattern.size(); });
}

void AddedMatcher::split(const Segment &seg, const std::vector<AddedToken> &tokens, std::vector<Segment> &out) const
{
    if (seg.text.isEmpty())
        return;
    if (m_byFirst.isEmpty()) {
        out.push_back(seg);
        return;
    }
    const QString &s = seg.text;
    const QStringView view(s);
    qsizetype startOffset = 0;
    qsizetype i = 0;
    auto emitText = [&](qsizetype a, qsizetype b) {
        if (b > a)
            out.push_back({s.mid(a, b - a), -1, seg.atStart && a == 0});
    };
    while (i < s.size()) {
        const auto it = m_byFirst.constFind(s[i].unicode());
        const Entry *hit = nullptr;
        if (it != m_byFirst.constEnd())
            for (const Entry &e : *it)
                if (view.mid(i).startsWith(e.pattern)) { hit = &e; break; }
        if (!hit) {
            ++i;
            continue;
        }
        const AddedToken &tok = tokens[size_t(hit->tokenIndex)];
        qsizetype start = i, stop = i + hit->pattern.size();
        if (tok.singleWord) {
            const bool startOk = start == 0 || !isWordChar(s, start - 1, true);
            const bool stopOk = stop == s.size() || !isWordChar(s, stop, false);
            if (!startOk || !stopOk) {
                i = stop;   // the automaton moves on past a rejected match
                continue;
            }
        }
        if (tok.lstrip) {
            qsizetype ns = start;
            while (ns > 0 && s[ns - 1].isSpace()) --ns;
            start = std::max(ns, startOffset);
        }
        if (tok.rstrip)
            while (stop < s.size() && s[stop].isSpace()) ++stop;
        emitText(startOffset, start);
        out.push_back({s.mid(start, stop - start), tok.id, seg.atStart && start == 0});
        startOffset = stop;
        i = stop;
    }
    emitText(startOffset, s.size());
}

bool AddedMatcher::isWordChar(const QString &s, qsizetype pos, bool before)
{
    char32_t cp = s[pos].unicode();
    if (before && s[pos].isLowSurrogate() && pos > 0 && s[pos - 1].isHighSurrogate())
        cp = QChar::surrogateToUcs4(s[pos - 1], s[pos]);
    else if (!before && s[pos].isHighSurrogate() && pos + 1 < s.size() && s[pos + 1].isLowSurrogate())
        cp = QChar::surrogateToUcs4(s[pos], s[pos + 1]);
    return QChar::isLetterOrNumber(cp) || QChar::isMark(cp) || cp == U'_';
}

} // namespace rs::tokenizer_detail
