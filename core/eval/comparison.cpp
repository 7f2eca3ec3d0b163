#include "eval/comparison.h"

#include "common/error.h"
#include "eval/evaluator.h"
#include "eval/sweep.h"

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
    std::vector<SweepMethodSpec> specs;
    for (const ComparedMethod &m : methods) {
        if (!m.model)
            throw Error(QStringLiteral("comparison"), QStringLiteral("method \"%1\" has no model").arg(m.name));
        table.rows.push_back(ComparisonRow{m.name, {}, 0, 0, {}, {}, {}});
        specs.push_back(SweepMethodSpec{m.name, QStringLiteral("config"), {}, 0, {}, {}});
    }
    // The needle cells are a sweep at depth 0 without held-out text: every method on the very same
    // samples, each cell with its per-sample values and its comparison with the reference.
    SweepSettings sweep;
    sweep.lengths = settings.lengths;
    sweep.samples = settings.samples;
    sweep.seed = settings.seed;
    sweep.corpus = settings.corpus;
    sweep.heldOut = false;
    sweep.passkey = settings.passkey;
    sweep.reference = settings.reference;
    sweep.resamples = settings.bootstrap.resamples;
    sweep.bootstrapSeed = settings.bootstrap.seed;
    SweepCallbacks callbacks;
    callbacks.cellDone = [&](const SweepCell &cell) {
        if (progress)
            progress(QStringLiteral("%1 at %2 tokens: needle PPL %3%4")
                         .arg(cell.method)
                         .arg(cell.length)
                         .arg(cell.value, 0, 'g', 5)
                         .arg(cell.passkeyAccuracy >= 0 ? QStringLiteral(", passkey %1").arg(cell.passkeyAccuracy) : QString()));
    };
    const SweepResult swept = runSweep(methods, specs, tokenizer, bosId, sweep, callbacks);
    table.reference = swept.settings.reference;
    for (ComparisonRow &row : table.rows)
        for (const int length : settings.lengths) {
            const SweepCell *cell = swept.find(SweepMeasure::Needle, row.method, length, 0.0);
            ComparisonCell c;
            c.needlePpl = cell->value;
            c.passkeyAccuracy = cell->passkeyAccuracy;
            c.detail = *cell;
            row.cells.push_back(std::move(c));
        }
    if (!settings.heldOutIds.empty() && settings.shortWindow >= 2) {
        for (size_t i = 0; i < methods.size(); ++i) {
            const ComparedMethod &m = methods[i];
            const std::optional<RopeOverride> rope = m.rope ? m.rope(settings.shortWindow) : std::nullopt;
            const SlidingWindowScore score = slidingWindowNll(*m.model, settings.heldOutIds, settings.shortWindow,
                                                              settings.shortWindow, rope ? &*rope : nullptr);
            ComparisonRow &row = table.rows[i];
            row.shortPpl = std::exp(score.meanNll());
            for (size_t w = 0; w < score.nllSum.size(); ++w)
                row.shortWindowNll.push_back(score.nllSum[w] / score.tokens[w]);
            row.shortPplInterval = bootstrapAggregate(row.shortWindowNll, Aggregate::ExpOfMean, settings.bootstrap);
        }
        const ComparisonRow &first = table.rows.front();
        for (ComparisonRow &row : table.rows) {
            row.shortRetention = 100.0 * first.shortPpl / row.shortPpl;
            const PairedComparison c = pairedBootstrap(row.shortWindowNll, first.shortWindowNll, Aggregate::ExpOfMean,
                                                       settings.bootstrap);
            row.shortRetentionInterval = Interval{row.shortRetention, 100.0 / c.ratio.upper, 100.0 / c.ratio.lower};
        }
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

QString ComparisonTable::intervalMarkdown(int trainLength) const
{
    const auto ci = [](const Interval &i, int digits) {
        return i.valid() ? QStringLiteral(" [%1, %2]").arg(QString::number(i.lower, 'g', digits), QString::number(i.upper, 'g', digits))
                         : QString();
    };
    QStringList header{QStringLiteral("method")};
    for (int L : lengths) {
        const double multiple = trainLength > 0 ? double(L) / trainLength : 0;
        header << QStringLiteral("%1 (%2×)").arg(L).arg(multiple, 0, 'g', 3);
    }
    const auto headerLine = [](const QStringList &h) {
        QString md = QStringLiteral("| ") + h.join(QStringLiteral(" | ")) + QStringLiteral(" |\n|");
        for (int i = 0; i < h.size(); ++i)
            md += i == 0 ? QStringLiteral(" --- |") : QStringLiteral(" ---: |");
        return md + QLatin1Char('\n');
    };
    QString md = QStringLiteral("Needle PPL [95 % BCa interval]; × its ratio to %1 on the same samples [95 % paired BCa interval]\n\n")
                     .arg(reference);
    md += headerLine(header);
    for (const ComparisonRow &row : rows) {
        QStringList cols{row.method};
        for (const ComparisonCell &c : row.cells) {
            QString text = QString::number(c.needlePpl, 'g', 4) + ci(c.detail.interval, 3);
            if (!c.detail.reference.isEmpty())
                text += QStringLiteral(" ×%1%2").arg(QString::number(c.detail.vsReference.ratio.estimate, 'g', 3),
                                                     ci(c.detail.vsReference.ratio, 3));
            cols << text;
        }
        md += QStringLiteral("| ") + cols.join(QStringLiteral(" | ")) + QStringLiteral(" |\n");
    }
    const bool hasPasskey = !rows.empty() && !rows.front().cells.empty() && rows.front().cells.front().passkeyAccuracy >= 0;
    const bool hasShort = !rows.empty() && rows.front().shortPpl > 0;
    if (hasPasskey || hasShort) {
        QStringList h{QStringLiteral("method")};
        if (hasPasskey)
            for (int i = 1; i < header.size(); ++i)
                h << QStringLiteral("passkey ") + header[i];
        if (hasShort)
            h << QStringLiteral("short PPL") << QStringLiteral("short retention");
        md += QStringLiteral("\nPasskey accuracy [95 % Wilson interval]; short-context PPL and retention [95 % BCa over the "
                             "held-out windows, retention paired with %1]\n\n").arg(rows.front().method);
        md += headerLine(h);
        for (const ComparisonRow &row : rows) {
            QStringList cols{row.method};
            if (hasPasskey)
                for (const ComparisonCell &c : row.cells) {
                    const Interval &p = c.detail.passkeyInterval;
                    cols << QStringLiteral("%1%%2").arg(100 * c.passkeyAccuracy, 0, 'f', 0)
                                .arg(p.valid() ? QStringLiteral(" [%1, %2]").arg(100 * p.lower, 0, 'f', 0).arg(100 * p.upper, 0, 'f', 0)
                                               : QString());
                }
            if (hasShort) {
                cols << QString::number(row.shortPpl, 'g', 4) + ci(row.shortPplInterval, 4);
                const Interval &r = row.shortRetentionInterval;
                cols << QStringLiteral("%1%%2").arg(row.shortRetention, 0, 'f', 1)
                            .arg(r.valid() ? QStringLiteral(" [%1, %2]").arg(r.lower, 0, 'f', 1).arg(r.upper, 0, 'f', 1) : QString());
            }
            md += QStringLiteral("| ") + cols.join(QStringLiteral(" | ")) + QStringLiteral(" |\n");
        }
    }
    return md;
}

} // namespace rs
