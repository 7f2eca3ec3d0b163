// libFuzzer target: a saved GUI session (.ropescope: versioned JSON with the whole config, the
// target length, d_rcd, λ and the attention factor), read as File › Open reads it (loadSession),
// then what the document does with an accepted session (FactorDocument::openSession): the config
// parsed again, the geometry at the session's target, the families, the LongRoPE2 overlay from
// λ's searched part, the constraint check and the out-of-distribution marks. An accepted session
// must save and re-open as the same session. Only rs::Error may come out.
#include "common/error.h"
#include "rope/factorfamilies.h"
#include "rope/ropeconfig.h"
#include "rope/ropegeometry.h"
#include "rope/session.h"
#include "scratch.h"

#include <QByteArray>
#include <QJsonDocument>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray input(reinterpret_cast<const char *>(data), qsizetype(size));
    const QString path = fuzz::writeFile(fuzz::scratch("session") + QStringLiteral("/s.ropescope"), input);
    rs::EditingSession session;
    try {
        session = rs::loadSession(path);
    } catch (const rs::Error &) {
        return 0;
    }
    try {
        const rs::RopeConfig config = rs::parseRopeConfig(QJsonDocument(session.configJson).toJson(QJsonDocument::Compact), path);
        const rs::RopeGeometry g = rs::computeGeometry(config, session.targetLength);
        const int dRcd = std::clamp(session.dRcd, 0, config.pairs());
        rs::standardFamilies(config, session.targetLength);
        if (dRcd < config.pairs()) {
            std::vector<double> upper(session.lambda.begin() + dRcd, session.lambda.end());
            for (double &v : upper)
                v = std::max(v, g.scale);
            try {
                rs::longrope2Factors(config.rotaryDims, dRcd, upper, g.scale, g.trainLength);
            } catch (const rs::Error &) {
            }
        }
        rs::checkConstraints(session.lambda, config.pairs(), g.scale, dRcd);
        rs::outOfDistribution(g, session.lambda);
    } catch (const rs::Error &) {
    }
    // Saved and re-opened: the same session.
    try {
        const rs::EditingSession again = rs::EditingSession::fromJson(session.toJson(), QStringLiteral("fuzz:again.ropescope"));
        if (again.toJson() != session.toJson())
            std::abort();
    } catch (const rs::Error &) {
        std::abort();
    }
    return 0;
}
