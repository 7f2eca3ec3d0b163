#include "helpdialog.h"

#include "glossary.h"

#include <QDialogButtonBox>
#include <QFile>
#include <QTextBrowser>
#include <QVBoxLayout>

namespace rs {

namespace {
const QString kPagePath = QStringLiteral(":/help/plots.html");
const QString kGlossaryMarker = QStringLiteral("<!--GLOSSARY-->");
} // namespace

QString HelpDialog::pageHtml()
{
    QFile file(kPagePath);
    // The page is compiled in (resources/CMakeLists.txt); without it the glossary still helps.
    QString html = file.open(QIODevice::ReadOnly) ? QString::fromUtf8(file.readAll())
                                                   : tr("<h2>How to read the plots</h2><!--GLOSSARY-->");
    html.replace(kGlossaryMarker, glossaryHtml());
    return html;
}

HelpDialog::HelpDialog(QWidget *parent) : QDialog(parent), m_browser(new QTextBrowser(this))
{
    setWindowTitle(tr("How to read the plots — RopeScope"));
    setObjectName(QStringLiteral("helpDialog"));
    m_browser->setOpenExternalLinks(true);
    m_browser->setHtml(pageHtml());
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::close);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_browser);
    layout->addWidget(buttons);
    resize(720, 640);
}

} // namespace rs
