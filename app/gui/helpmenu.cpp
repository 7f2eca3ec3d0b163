#include "helpmenu.h"

#include "helpdialog.h"

#include <QAction>
#include <QCoreApplication>
#include <QMainWindow>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>

namespace rs {

namespace {

QString tr(const char *text) { return QCoreApplication::translate("rs::HelpMenu", text); }

} // namespace

QString aboutText()
{
    // GPL v3 or later: QCustomPlot, which every plot uses, is GPL v3, so no other terms could be
    // offered for a binary anyway; the full text is the repository's LICENSE.
    return tr("<h3>RopeScope %1</h3>"
              "<p>Explore RoPE rescale factors the LongRoPE2 way: which rotary dimensions go out of "
              "distribution when a model's context is extended, hand-tuned factors scored live, the "
              "evolutionary search with needle-driven perplexity, and exports that transformers and vLLM load.</p>"
              "<p>Built on the method of Ning Shang, Li Lyna Zhang, Siyuan Wang, Gaokai Zhang, Gilsinia Lopez, "
              "Fan Yang, Weizhu Chen and Mao Yang, <i>LongRoPE2: Near-Lossless LLM Context Window Scaling</i>, "
              "<a href=\"https://arxiv.org/abs/2502.20082\">arXiv:2502.20082</a> (2025).</p>"
              "<p><b>Licence.</b> RopeScope is free software under the GNU General Public License, version 3 "
              "or (at your option) any later version; the full text is the LICENSE file of its source. It comes "
              "with no warranty. It links Qt %2 (LGPL v3), QCustomPlot (GPL v3) and LibTorch (BSD 3-clause).</p>"
              "<p>Press F1 for how to read the plots.</p>")
        .arg(QStringLiteral(ROPESCOPE_VERSION), QString::fromLatin1(qVersion()));
}

QMenu *addHelpMenu(QMainWindow *window)
{
    QMenu *menu = window->menuBar()->addMenu(tr("&Help"));
    QAction *plots = menu->addAction(tr("How to Read the &Plots"));
    plots->setObjectName(QStringLiteral("helpPlotsAction"));
    plots->setShortcut(QKeySequence::HelpContents);  // F1
    plots->setShortcutContext(Qt::ApplicationShortcut);
    plots->setStatusTip(tr("What each plot shows, and every term defined"));
    QObject::connect(plots, &QAction::triggered, window, [window] {
        // One page, raised again when it is already open.
        auto *dialog = window->findChild<HelpDialog *>(QStringLiteral("helpDialog"), Qt::FindDirectChildrenOnly);
        if (!dialog) {
            dialog = new HelpDialog(window);
            dialog->setAttribute(Qt::WA_DeleteOnClose);
        }
        dialog->show();
        dialog->raise();
        dialog->activateWindow();
    });

    menu->addSeparator();
    QAction *about = menu->addAction(tr("&About RopeScope"));
    about->setObjectName(QStringLiteral("aboutAction"));
    about->setMenuRole(QAction::AboutRole);
    QObject::connect(about, &QAction::triggered, window, [window] {
        auto *box = new QMessageBox(QMessageBox::Information, tr("About RopeScope"), aboutText(), QMessageBox::Close, window);
        box->setObjectName(QStringLiteral("aboutBox"));
        box->setTextFormat(Qt::RichText);
        box->setTextInteractionFlags(Qt::TextBrowserInteraction);
        box->setAttribute(Qt::WA_DeleteOnClose);
        box->open();
    });
    return menu;
}

} // namespace rs
