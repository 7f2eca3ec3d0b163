#pragma once
// The fine-tuned variants of the embedded model that File › Open Embedded Model offers beside the
// base: the eight models of the fair miniature (docs/experiments/fair-4x.md, made by
// scripts/embedded-model/fair-miniature.sh into results/fair-4x/models), each the base fine-tuned
// alike with one method's factors. They are real folders (too large to carry inside the binary as
// the base is), installed as data and listed by the index.json the recipe writes:
//   [{"folder": "longrope2", "name": "LongRoPE2 + mixed windows (fine-tuned, 4×)"}, …]
#include <QList>
#include <QString>

struct FineTunedModel {
    QString name;  // what the menu, the window title and the search dock call it
    QString dir;   // the model folder (config.json, model.safetensors, tokenizer.json)
};

// The folder holding index.json: $ROPESCOPE_FINETUNED_MODELS when set, else models/fair-4x in the
// data folder (datadir.h: <prefix>/share/ropescope when installed, <build>/share/ropescope in the
// build tree); empty when there is no data folder.
QString fineTunedModelsDirectory();

// The models of `directory`'s index.json whose folders hold a config.json, in the index's order.
// No index: an empty list. A malformed index or entry: `problem` names the file and what is wrong
// (the entries before it are kept), so the menu shows what it can and the status bar says why.
QList<FineTunedModel> readFineTunedModels(const QString &directory, QString *problem = nullptr);
