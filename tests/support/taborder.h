#pragma once
// Walks a panel's Tab order as a keyboard user does (Tab from its first control) and lists, beside
// it, the panel's controls in visual order (top to bottom, a row left to right): a test compares
// the two, so every control is reachable and the focus follows the eye. Widgets only (Qt Test).
#include <QApplication>
#include <QStringList>
#include <QTest>
#include <QWidget>

#include <algorithm>
#include <cmath>
#include <vector>

namespace rs::testing {

inline QString describeControl(const QWidget *w)
{
    QString text = w->property("text").toString();
    if (text.isEmpty())
        text = w->objectName();
    if (text.isEmpty())
        text = w->toolTip().left(30);
    return QString::fromLatin1(w->metaObject()->className()) + QLatin1Char('(') + text + QLatin1Char(')');
}

// The controls of `root` a Tab can reach (visible, enabled, taking Tab focus), not counting a
// control's own parts (a spin box's or an editable combo box's line edit), in visual order.
inline std::vector<QWidget *> controlsInVisualOrder(QWidget *root)
{
    std::vector<QWidget *> controls;
    for (QWidget *w : root->findChildren<QWidget *>()) {
        if (!w->isVisibleTo(root) || !w->isEnabled() || !(w->focusPolicy() & Qt::TabFocus))
            continue;
        bool part = false;
        for (QWidget *p = w->parentWidget(); p && p != root; p = p->parentWidget())
            if (p->focusPolicy() & Qt::TabFocus)
                part = true;
        if (!part)
            controls.push_back(w);
    }
    const auto centre = [root](const QWidget *w) { return w->mapTo(root, w->rect().center()); };
    std::sort(controls.begin(), controls.end(), [&](const QWidget *a, const QWidget *b) {
        const QPoint pa = centre(a), pb = centre(b);
        if (std::abs(pa.y() - pb.y()) > 8)  // another row
            return pa.y() < pb.y();
        return pa.x() < pb.x();
    });
    return controls;
}

// Focuses the first control and presses Tab once per control; each time, which control (or part
// of one) has the focus. Fewer entries than controls when the focus left `root` early.
inline std::vector<QWidget *> walkTabOrder(QWidget *root, const std::vector<QWidget *> &controls)
{
    std::vector<QWidget *> walked;
    if (controls.empty())
        return walked;
    controls.front()->setFocus(Qt::TabFocusReason);
    QTest::qWait(1);
    for (size_t i = 0; i < controls.size(); ++i) {
        QWidget *focus = QApplication::focusWidget();
        if (!focus || !root->isAncestorOf(focus))
            break;
        // The control the focused part belongs to.
        const auto owner = std::find_if(controls.begin(), controls.end(),
                                        [focus](QWidget *c) { return c == focus || c->isAncestorOf(focus); });
        walked.push_back(owner == controls.end() ? focus : *owner);
        QTest::keyClick(focus, Qt::Key_Tab);
    }
    return walked;
}

inline QStringList describeControls(const std::vector<QWidget *> &controls)
{
    QStringList out;
    for (const QWidget *w : controls)
        out << describeControl(w);
    return out;
}

} // namespace rs::testing
