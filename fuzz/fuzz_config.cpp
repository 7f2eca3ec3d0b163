// libFuzzer target: a Hugging Face config.json (parseRopeConfig), then what every view does with a
// config it accepted: the geometry and the factor families at the config's own target length, and
// an export of its own long factors (or ones) in both forms. Only rs::Error may come out.
#include "common/error.h"
#include "rope/configexport.h"
#include "rope/factorfamilies.h"
#include "rope/ropeconfig.h"
#include "rope/ropegeometry.h"

#include <QByteArray>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray json(reinterpret_cast<const char *>(data), qsizetype(size));
    try {
        const rs::RopeConfig c = rs::parseRopeConfig(json, QStringLiteral("fuzz:config.json"));
        const double target = c.defaultTargetLength();
        const rs::RopeGeometry g = rs::computeGeometry(c, target);
        rs::outOfDistribution(g, std::vector<double>(size_t(g.pairs()), 1.0));
        rs::standardFamilies(c, target);
        rs::standardFamilies(c, 2.0 * c.trainLength);
        rs::LongropeExport what;
        what.longFactor = c.scaling.longFactor.empty() ? std::vector<double>(size_t(c.pairs()), 1.0) : c.scaling.longFactor;
        what.targetLength = std::max<double>(target, c.trainLength);
        for (rs::ConfigForm form : {rs::ConfigForm::Hf4, rs::ConfigForm::Hf5}) {
            what.form = form;
            rs::exportLongropeConfig(c, what);
        }
    } catch (const rs::Error &) {
        // A clear error is the expected outcome for most inputs.
    }
    return 0;
}
