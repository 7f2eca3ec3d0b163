#include "glossary.h"

#include <QAbstractButton>
#include <QCoreApplication>
#include <QGroupBox>
#include <QLabel>
#include <QRegularExpression>
#include <QTextDocumentFragment>

#include <stdexcept>

namespace rs {

namespace {

QString tr(const char *text) { return QCoreApplication::translate("rs::Glossary", text); }

std::vector<GlossaryTerm> buildGlossary()
{
    // Formulas as DESIGN.md §1 and the paper (arXiv 2502.20082) state them.
    return {
        {QStringLiteral("d"), tr("Rotary dimensions d"),
         tr("Rotary dimensions of one attention head (head_dim × partial_rotary_factor); they turn in d/2 pairs, "
            "indexed i = 0 … d/2 − 1."),
         {QStringLiteral("Rotary dims d")}},
        {QStringLiteral("b"), tr("Base b"),
         tr("RoPE base (rope_theta): pair i turns by θ_i = b^(−2i/d) radians per token."),
         {QStringLiteral("Base b")}},
        {QStringLiteral("period"), tr("Period T_i"),
         tr("Tokens pair i takes for one full rotation, T_i = 2π / θ_i; rescaling makes it λ_i · T_i."),
         {QStringLiteral("T_i")}},
        {QStringLiteral("L_train"), tr("L_train"),
         tr("Pretraining context length (original_max_position_embeddings): the positions the model has seen."),
         {QStringLiteral("L_train")}},
        {QStringLiteral("L"), tr("Target length L"),
         tr("Target context length in tokens: the context the rescaled RoPE should reach (also the needle samples' length)."),
         {QStringLiteral("Target L"), QStringLiteral("Length L")}},
        {QStringLiteral("s"), tr("Scale s"),
         tr("Scale factor s = L / L_train: how many times the context is extended."),
         {QStringLiteral("Scale s")}},
        {QStringLiteral("rotations"), tr("Rotations"),
         tr("Full turns of pair i within a length (the length over its period); below one, the pair never closes its circle."),
         {QStringLiteral("rotations")}},
        {QStringLiteral("lambda"), tr("Rescale factor λ_i"),
         tr("Factor of pair i: its period becomes λ_i · T_i (frequency θ_i / λ_i); λ = 1 is the original RoPE."),
         {QStringLiteral("λ_i"), QStringLiteral("λ")}},
        {QStringLiteral("d_tcd"), tr("d_tcd, theoretical critical dimension"),
         tr("ceil((d/2) · log_b(L_train / 2π)) (paper Eq. 7): the first pair whose period reaches L_train, so it never "
            "completed a rotation in pretraining."),
         {QStringLiteral("d_tcd")}},
        {QStringLiteral("d_10"), tr("d_10, ten-period dimension"),
         tr("ceil((d/2) · log_b(L_train / 20π)): the first pair that turns at most ten times in L_train; the lowest "
            "d_rcd the search tries."),
         {QStringLiteral("d_10")}},
        {QStringLiteral("d_rcd"), tr("d_rcd, real critical dimension"),
         tr("From pair d_rcd on λ_i ≥ s is required, so no angle beyond the pretrained ones is reached at L; LongRoPE2 "
            "searches it between d_10 and d_tcd."),
         {QStringLiteral("d_rcd")}},
        {QStringLiteral("ood"), tr("Out of distribution (OOD)"),
         tr("A pair that never completed a rotation in pretraining (T_i > L_train) and would turn further at L than it "
            "did there (L / λ_i > L_train)."),
         {}},
        {QStringLiteral("ntk_left"), tr("NTK-left"),
         tr("LongRoPE2's shape below d_rcd: λ_i = λ_{d_rcd}^(i / d_rcd), rising from 1 like NTK scaling; the factors "
            "from d_rcd on are searched in [s, 2s]."),
         {QStringLiteral("NTK-left")}},
        {QStringLiteral("attention_factor"), tr("Attention factor"),
         tr("Multiplier of cos and sin (mscale) that sharpens attention at long context; longrope's default is "
            "√(1 + ln s / ln L_train), YaRN's 0.1 · ln s + 1."),
         {QStringLiteral("Attention factor"), QStringLiteral("Search the attention factor")}},
        {QStringLiteral("constraints"), tr("Constraints"),
         tr("λ_i ≥ s for every i ≥ d_rcd (paper Eq. 9–10): a pair below it there goes out of distribution at L."),
         {QStringLiteral("Constraints")}},
        {QStringLiteral("families"), tr("Families (overlays)"),
         tr("Known rescalings drawn for comparison: PI, NTK-aware, YaRN, Llama 3.1 and LongRoPE2's structure at the "
            "same s."),
         {QStringLiteral("Overlays")}},
        {QStringLiteral("original"), tr("original"),
         tr("The model's RoPE as trained, λ_i = 1 and attention factor 1."),
         {QStringLiteral("original")}},
        {QStringLiteral("pi"), tr("PI (position interpolation)"),
         tr("Every factor equal to s: all positions squeezed into the trained range."),
         {QStringLiteral("PI"), QStringLiteral("PI (linear)")}},
        {QStringLiteral("ntk"), tr("NTK-aware"),
         tr("A larger base b · s^(d/(d−2)), i.e. λ_i = s^(2i/(d−2)): high frequencies kept, low ones stretched."),
         {QStringLiteral("NTK"), QStringLiteral("NTK-aware")}},
        {QStringLiteral("yarn"), tr("YaRN"),
         tr("A ramp over rotations: pairs turning more than 32 times in L_train keep λ = 1, those under once get s, "
            "with attention factor 0.1 · ln s + 1."),
         {QStringLiteral("YaRN")}},
        {QStringLiteral("llama3"), tr("Llama 3.1"),
         tr("Meta's rule by wavelength: short wavelengths keep λ = 1, long ones get the factor, smooth in between."),
         {QStringLiteral("Llama 3.1")}},
        {QStringLiteral("longrope2"), tr("LongRoPE2 structure"),
         tr("NTK-left up to d_rcd and λ = s from there: the shape the LongRoPE2 search starts from."),
         {QStringLiteral("LongRoPE2 structure")}},
        {QStringLiteral("edited"), tr("edited λ"),
         tr("The factors in the table and the factors plot, as you edit them, with the document's attention factor."),
         {QStringLiteral("edited λ")}},
        {QStringLiteral("needle_ppl"), tr("Needle PPL"),
         tr("Perplexity of the answer tokens only, after a key–value needle near the start and its question at the "
            "end of L tokens (paper §3.2); lower is better."),
         {QStringLiteral("needle PPL"), QStringLiteral("Needle PPL on the same samples")}},
        {QStringLiteral("method"), tr("Search method"),
         tr("LongRoPE2 searches d_rcd and the factors from it on (NTK-left below); LongRoPE v1 searches all d/2 factors."),
         {QStringLiteral("Method")}},
        {QStringLiteral("population"), tr("Population"),
         tr("Candidates in each generation of the evolutionary search (paper: 64)."),
         {QStringLiteral("Population")}},
        {QStringLiteral("generations"), tr("Generations"),
         tr("The initial population plus the bred generations, each made of mutations and crossovers of the best half "
            "(the CLI's --iterations counts the bred ones; paper: 40)."),
         {QStringLiteral("Generations")}},
        {QStringLiteral("samples"), tr("Samples"),
         tr("Needle samples each candidate is scored on: L tokens of text, a needle near the start, its question at the end."),
         {QStringLiteral("Samples")}},
        {QStringLiteral("seed"), tr("Seed"),
         tr("Seeds the needle samples (and in the search dock the search too): the same seed gives the same samples."),
         {QStringLiteral("Seed")}},
        {QStringLiteral("corpus"), tr("Corpus"),
         tr("The text the needle samples are cut from: the built-in prose, a folder of .txt files or a .jsonl file."),
         {QStringLiteral("Corpus")}},
        {QStringLiteral("run_log"), tr("Run log"),
         tr("The search's JSON Lines log of every evaluation and generation: enough to follow the run live or resume it."),
         {QStringLiteral("Run log")}},
        {QStringLiteral("racing"), tr("Racing"),
         tr("Successive halving over the samples: a generation is scored one sample at a time and only its better half "
            "goes on to the next sample."),
         {QStringLiteral("Racing over samples")}},
        {QStringLiteral("validation_samples"), tr("Validation samples"),
         tr("Held-out needle samples (other seeds) on which each generation's best few candidates are scored; the "
            "answer is the best there."),
         {QStringLiteral("Validation"), QStringLiteral("Validation samples")}},
        {QStringLiteral("validation_seed"), tr("Validation seed"),
         tr("Seed of the validation samples; auto takes the seeds right after the search's, so the two sets never overlap."),
         {QStringLiteral("Val. seed")}},
        {QStringLiteral("fitness"), tr("Fitness aggregate"),
         tr("How a candidate's per-sample needle PPLs combine into its fitness: mean PPL (paper), exp(mean NLL) or "
            "median PPL."),
         {QStringLiteral("Fitness")}},
        {QStringLiteral("answer_by"), tr("Answer by"),
         tr("Which samples pick the run's answer: the held-out validation samples or the search's own."),
         {QStringLiteral("Answer by")}},
        {QStringLiteral("family_seeds"), tr("Start from the families"),
         tr("Generation 0 holds the original RoPE, PI, NTK, YaRN, Llama 3.1 (and the config's own factors) projected "
            "into the search space."),
         {QStringLiteral("Start from the families")}},
        {QStringLiteral("baselines"), tr("Baselines"),
         tr("The families a run scores at its start on its own search and validation samples: its reference lines."),
         {}},
        {QStringLiteral("evaluation"), tr("Evaluation"),
         tr("One candidate scored on one needle sample, a forward pass over L tokens; scores found in the cache cost "
            "nothing and are counted apart."),
         {}},
        {QStringLiteral("budget"), tr("Evaluation count"),
         tr("(population + bred generations × children) × samples, plus on the validation samples at most 3 "
            "candidates a generation and the seeded families, plus each baseline on both sample sets."),
         {QStringLiteral("Evaluations")}},
        {QStringLiteral("candidate_batch"), tr("Candidate batch"),
         tr("Candidates scored in one batched forward pass, each row with its own factors (CLI --candidate-batch; "
            "8 on a GPU, 1 on the CPU)."),
         {}},
        {QStringLiteral("device"), tr("Device"),
         tr("Where the model runs: the CPU or a CUDA GPU (cuda:N); auto takes the first GPU when there is one."),
         {QStringLiteral("Device")}},
        {QStringLiteral("dtype"), tr("Precision (dtype)"),
         tr("Number format of the weights: float32, or bfloat16 / float16 at half the memory (fast on GPUs, coarser "
            "PPL); auto is float32 on the CPU, bfloat16 on a GPU."),
         {QStringLiteral("Precision")}},
        {QStringLiteral("depth"), tr("Needle depth"),
         tr("Where the needle sits in a sample: 0 at the start, 1 at the end."),
         {QStringLiteral("Depths")}},
    };
}

// A widget's text as the glossary's labels spell it: no markup, no mnemonic, no colour swatch,
// no trailing colon.
QString normalisedLabel(QString text)
{
    if (text.contains(QLatin1Char('<')))
        text = QTextDocumentFragment::fromHtml(text).toPlainText();
    text.remove(QLatin1Char('&'));
    text.remove(QChar(0x25A0));  // ■, the swatch before a score's name
    text = text.trimmed();
    if (text.endsWith(QLatin1Char(':')))
        text.chop(1);
    return text.trimmed();
}

} // namespace

const std::vector<GlossaryTerm> &glossary()
{
    static const std::vector<GlossaryTerm> terms = buildGlossary();
    return terms;
}

const GlossaryTerm &glossaryTerm(const QString &key)
{
    for (const GlossaryTerm &term : glossary()) {
        if (term.key == key)
            return term;
    }
    throw std::out_of_range("glossary: no term " + key.toStdString());
}

QString glossaryDefinition(const QString &key) { return glossaryTerm(key).definition; }

const GlossaryTerm *glossaryTermForLabel(const QString &text)
{
    const QString label = normalisedLabel(text);
    if (label.isEmpty())
        return nullptr;
    for (const GlossaryTerm &term : glossary()) {
        for (const QString &candidate : term.labels) {
            if (label.compare(candidate, Qt::CaseInsensitive) == 0)
                return &term;
        }
    }
    return nullptr;
}

QString glossaryHtml()
{
    QString html = QStringLiteral("<dl>");
    for (const GlossaryTerm &term : glossary())
        html += QStringLiteral("<dt><b>%1</b></dt><dd>%2</dd>").arg(term.name.toHtmlEscaped(), term.definition.toHtmlEscaped());
    return html + QStringLiteral("</dl>");
}

void applyGlossaryTooltips(QWidget *root)
{
    const auto giveField = [](QWidget *field, const GlossaryTerm &term) {
        if (field && field->toolTip().isEmpty())
            field->setToolTip(term.definition);
    };
    for (QLabel *label : root->findChildren<QLabel *>()) {
        if (const GlossaryTerm *term = glossaryTermForLabel(label->text())) {
            label->setToolTip(term->definition);
            giveField(label->buddy(), *term);
        }
    }
    for (QAbstractButton *button : root->findChildren<QAbstractButton *>()) {
        if (const GlossaryTerm *term = glossaryTermForLabel(button->text()))
            giveField(button, *term);
    }
    for (QGroupBox *box : root->findChildren<QGroupBox *>()) {
        if (const GlossaryTerm *term = glossaryTermForLabel(box->title()); term && box->toolTip().isEmpty())
            box->setToolTip(term->definition);
    }
}

} // namespace rs
