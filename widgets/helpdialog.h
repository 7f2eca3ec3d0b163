#pragma once
// Help › How to Read the Plots (F1): a non-modal page that explains each plot and ends with the
// glossary (widgets/glossary.h), so it and the tooltips never disagree. The text lives in
// resources/help/plots.html; its <!--GLOSSARY--> marker is replaced by the glossary table.
#include <QDialog>

class QTextBrowser;

namespace rs {

class HelpDialog : public QDialog {
    Q_OBJECT

public:
    explicit HelpDialog(QWidget *parent = nullptr);

    QTextBrowser *browser() const { return m_browser; }
    // The page as shown: the resource's text with the glossary filled in.
    static QString pageHtml();

private:
    QTextBrowser *m_browser;
};

} // namespace rs
