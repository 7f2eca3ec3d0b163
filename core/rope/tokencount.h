#pragma once
// Token counts (context lengths) as researchers write them, read the same way by the GUI's target
// box and every length option of ropescope-cli: "131072", "131,072", "128k" / "128K" (k = 1024, as
// "128k context" means 131072 in transformers and vLLM), "1M" (= 1048576), "1.5k" (= 1536).
#include <QString>
#include <QtGlobal>

#include <optional>

namespace rs {

// The whole positive number of tokens `text` names; empty for anything else (junk, 0, negatives,
// a fraction of a token such as "1.3k", a count too large to hold).
std::optional<qint64> parseTokenCount(const QString &text);

// Whether `text` has the form of a token count (digits, an optional fraction and one k/M suffix),
// whatever its value: what a text field lets through while the user types, so that "1.3k" can be
// refused on commit with a reason instead of being untypeable.
bool hasTokenCountForm(const QString &text);

} // namespace rs
