#include "eval/comparison.h"

#include "common/error.h"
#include "eval/evaluator.h"

#include <QElapsedTimer>
#include <QStringList>

#include <map>
#include <memory>

namespace rs {

ComparisonTable compareMethods(const std::vector<ComparedMethod> &methods, const Tokenizer &tokenizer, int bosId,
                               const ComparisonSettings &settings, const std::function<void(const QString &)> &progress)
{
    if (methods.empty())
        throw Error(QStringLiteral("comparison"), QStringLiteral("no methods to compare"));
    QElapsedTimer clock;
    clock.start();
    ComparisonTable table;
    table.lengths = settings.lengths;
    for (const ComparedMethod &m : methods) {
        if (!m.model)
            throw Error(QStringLiteral("comparison"), QStringLiteral("method \"%1\" has no model").arg(m.name));
        table.rows.push_back(ComparisonRow{m.name, {}, 0, 0});
    }
    for (const int length : settings.lengths) {
        NeedleEvalSettings ns;
        ns.length = length;
        ns.samples = settings.samples;
        ns.seed = settings.seed;
        ns.corpus = settings.corpus;
        // The samples depend only on the tokenizer, so every method sees the very same tokens; they
        // are built once per model (methods sharing a model share its evaluator).
        std::map<CausalLM *, std::unique_ptr<NeedleEvaluator>> evaluators;
        for (size_t i = 0; i < methods.size(); ++i) {
            const ComparedMethod &m = methods[i];
            std::unique_ptr<NeedleEvaluator> &slot = evaluators[m.model];
            if (!slot)
                slot = std::make_unique<NeedleEvaluator>(*m.model, tokenizer, bosId, ns);
            const NeedleEvaluator &evaluator = *slot;
            const std::optional<RopeOverride> rope = m.rope ? m.rope(length) : std::nullopt;
            ComparisonCell cell;
            cell.needlePpl = evaluator.evaluate(rope ? &*rope : nullptr).meanPpl;
            if (settings.passkey)
                cell.passkeyAccuracy = evaluator.passkeyAccuracy(rope ? &*rope : nullptr);
            table.rows[i].cells.push_back(cell);
            if (progress)
                progress(QStringLiteral("%1 at %2 tokens: needle PPL %3%4")
                             .arg(m.name)
                             .arg(length)
                             .arg(cell.needlePpl, 0, 'g', 5)
                             .arg(cell.passkeyAccuracy >= 0 ? QStringLiteral(", passkey %1").arg(cell.passkeyAccuracy)
                                                            : QString()));
        }
    }
    if (!settings.heldOutIds.empty() && settings.shortWindow >= 2) {
        for (size_t i = 0; i < methods.size(); ++i) {
            const ComparedMethod &m = methods[i];
            const std::optional<RopeOverride> rope = m.rope ? m.rope(settings.shortWindow) : std::nullopt;
            table.rows[i].shortPpl = slidingPerplexity(*m.model, settings.heldOutIds, settings.shortWindow,
                                                       settings.shortWindow, rope ? &*rope : nullptr);
        }
        for (ComparisonRow &row : table.rows)
            row.shortRetention = 100.0 * table.rows.front().shortPpl / row.shortPpl;
    }
    table.seconds = clock.nsecsElapsed() / 1e9;
    return table;
}

QString ComparisonTable::markdown(int trainLength) const
{
    QStringList header{QStringLiteral("method")};
    for (int L : lengths) {
        const double multiple = trainLength > 0 ? double(L) / trainLength : 0;
        header << QStringLiteral("%1 (%2×)").arg(L).arg(multiple, 0, 'g', 3);
    }
    const bool hasShort = !rows.empty() && rows.front().shortPpl > 0;
    if (hasShort)
        header << QStringLiteral("short PPL") << QStringLiteral("short retention");
    QString md = QStringLiteral("| ") + header.join(QStringLiteral(" | ")) + QStringLiteral(" |\n|");
    for (int i = 0; i < header.size(); ++i)
        md += i == 0 ? QStringLiteral(" --- |") : QStringLiteral(" ---: |");
    md += QLatin1Char('\n');
    for (const ComparisonRow &row : rows) {
        QStringList cols{row.method};
        for (const ComparisonCell &c : row.cells)
            cols << (c.passkeyAccuracy >= 0 ? QStringLiteral("%1 / %2%").arg(c.needlePpl, 0, 'g', 4).arg(100 * c.passkeyAccuracy, 0, 'f', 0)
                                            : QString::number(c.needlePpl, 'g', 4));
        if (hasShort)
            cols << QString::number(row.shortPpl, 'g', 4) << QStringLiteral("%1%").arg(row.shortRetention, 0, 'f', 1);
        md += QStringLiteral("| ") + cols.join(QStringLiteral(" | ")) + QStringLiteral(" |\n");
    }
    return md;
}

} // namespace rs
