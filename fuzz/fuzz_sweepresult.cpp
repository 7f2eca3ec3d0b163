// libFuzzer target: a saved sweep result, as `sweep --open` and the workbench's Open read it: the
// input as the JSON form (SweepResult::fromJson) and as the CSV form (fromCsv), then what both
// show of an accepted result (the Markdown tables, the cells by method, length and depth). An
// accepted result must save and re-open: its JSON and CSV read back, and saving what was read back
// gives the same JSON again (a result the tool wrote is one it reads the same way).
// Only rs::Error may come out.
#include "common/error.h"
#include "eval/sweepresult.h"

#include <QByteArray>
#include <QJsonDocument>
#include <QString>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace {

void show(const rs::SweepResult &r)
{
    r.markdown();
    for (const QString &method : r.methodNames())
        for (int length : r.settings.lengths) {
            r.find(rs::SweepMeasure::HeldOut, method, length);
            for (double depth : r.needleDepths())
                r.find(rs::SweepMeasure::Needle, method, length, depth);
        }
}

void roundTrip(const rs::SweepResult &r)
{
    show(r);
    const QJsonObject json = r.toJson();
    rs::SweepResult again;
    try {
        again = rs::SweepResult::fromJson(json, QStringLiteral("fuzz:again.json"));
        rs::SweepResult::fromCsv(r.toCsv(), QStringLiteral("fuzz:again.csv"));
    } catch (const rs::Error &) {
        std::abort();  // a result this build accepted, saved by it, does not re-open
    }
    if (again.toJson() != json)
        std::abort();  // re-opening the saved file gives another result
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray input(reinterpret_cast<const char *>(data), qsizetype(size));
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(input, &error);
    if (doc.isObject()) {
        try {
            roundTrip(rs::SweepResult::fromJson(doc.object(), QStringLiteral("fuzz:result.json")));
        } catch (const rs::Error &) {
        }
    }
    try {
        roundTrip(rs::SweepResult::fromCsv(QString::fromUtf8(input), QStringLiteral("fuzz:result.csv")));
    } catch (const rs::Error &) {
    }
    return 0;
}
