#pragma once
// RopeScope's main window: the periods view above the factors view, the side panel with the
// config summary and controls, the search dock (background evaluation thread, live needle PPL),
// and the File / Edit / View menus. Every file operation has a public method taking a path (the
// menu slots only ask for the path), so tests and scripts can drive the window without dialogs.
#include "recentfiles.h"
#include "rope/configexport.h"

#include <QMainWindow>

#include <functional>

class QDockWidget;
class QTabWidget;
class QLabel;
class QMenu;
class QSplitter;

namespace rs {
class ControlPanel;
class EvaluationThread;
class FactorDocument;
class FactorsView;
class PeriodsPlot;
class RecentFiles;
class SearchPanel;
class WorkbenchPanel;
} // namespace rs

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    enum class Plot { Periods, Factors, Search };
    static constexpr int kMaxRecentFiles = rs::RecentFiles::kMaxEntries;
    // What the window title, the side panel's source and the recent list call the shipped model.
    static QString embeddedModelName() { return tr("embedded model"); }

    explicit MainWindow(QWidget *parent = nullptr);

    // With prompts off nothing modal ever opens: errors go only to lastError(), errorOccurred()
    // and the status bar, and unsaved edits are discarded without asking (tests, --screenshot).
    void setPromptsEnabled(bool enabled);
    bool promptsEnabled() const { return m_promptsEnabled; }

    // Each returns false after reporting the error; the current document is then left untouched.
    bool openConfig(const QString &path);
    bool openPreset(const QString &name);
    // The tiny model shipped in the binary at 8 × its training length, loaded for live scoring
    // (what the app opens without arguments). Its files live in a cache folder, which is never
    // shown as its name nor offered as a place to save.
    bool openEmbeddedModel();
    // One of the embedded model's fine-tuned variants (finetunedmodels.h) under `name`, at the length
    // its config was fine-tuned for, loaded for live scoring.
    bool openFineTunedModel(const QString &dir, const QString &name);
    bool loadSession(const QString &path);
    // A session file (*.ropescope) or a Hugging Face config.json.
    bool openFile(const QString &path);
    // An entry of File › Open Recent: a path or a preset. A file that is gone leaves the list.
    bool openRecent(const QString &entry);
    // Appends ".ropescope" when the name does not end in it (so the session dialogs list the file).
    bool saveSession(const QString &path);
    bool exportConfig(const QString &path, rs::ConfigForm form, rs::Engine engine = rs::Engine::Transformers);
    bool exportCsv(const QString &path);
    bool exportFactorFile(const QString &path);
    bool importFactors(const QString &path);
    // Starts loading a Hugging Face model folder on the evaluation thread (progress and the outcome
    // arrive in the status bar and the search dock; a failure is reported and the previous model
    // stays). When the folder's RoPE differs from the document's, its config.json is opened first
    // so hand tuning scores the right dimensions. `tokenizerPath` empty: the folder's tokenizer.json.
    bool loadModel(const QString &modelDir, const QString &tokenizerPath = {});
    // Replays a search's JSON Lines run log into the search dock and follows it as it grows. When
    // the log's start entry names a model other than the one loaded, asks (prompts on) whether to
    // load it; the log alone never makes the window load a model.
    bool followSearchLog(const QString &path);
    // PNG or PDF by the file's suffix, at the plot's size on screen, without on-screen hints.
    bool exportPlot(const QString &path, Plot plot);
    // The whole window as it looks now, plots brought up to date first.
    QImage grabWindowImage();

    QString lastError() const { return m_lastError; }
    QString sessionPath() const { return m_sessionPath; }
    QStringList recentFiles() const;
    QMenu *recentMenu() const { return m_recentMenu; }
    // Where the next file dialog opens: the folder of the user's last file (kept in QSettings),
    // else the home folder; never the embedded model's cache folder.
    QString dialogDirectory() const;

    rs::FactorDocument *document() const { return m_document; }
    rs::PeriodsPlot *periodsPlot() const { return m_periodsPlot; }
    rs::FactorsView *factorsView() const { return m_factorsView; }
    rs::ControlPanel *controlPanel() const { return m_controlPanel; }
    rs::SearchPanel *searchPanel() const { return m_searchPanel; }
    rs::EvaluationThread *evaluationThread() const { return m_evaluation; }
    QDockWidget *searchDock() const { return m_searchDock; }
    // The central tabs: the factor views ("Factors") and the search's own large view ("Search":
    // the needle-PPL and d_rcd plot, legend beside it), brought forward when a run starts or is followed.
    QTabWidget *centralTabs() const { return m_centralTabs; }
    void showSearchView();
    // Brings up the search dock (as loading a model does), fitted beside the factor views.
    void showSearchDock();
    // The evaluation workbench (length sweeps, needle heatmaps), fed by the same evaluation thread.
    rs::WorkbenchPanel *workbenchPanel() const { return m_workbench; }
    QDockWidget *workbenchDock() const { return m_workbenchDock; }
    void showWorkbenchDock();
    // The permanent status-bar text of the search (progress, evaluations/s, ETA).
    QString searchStatusText() const;

signals:
    void errorOccurred(const QString &message);

protected:
    void closeEvent(QCloseEvent *event) override;
    void showEvent(QShowEvent *event) override;
    void bringDockForward(QDockWidget *dock);

private:
    void createMenus();
    void createSearchDock();
    void createWorkbenchDock();
    void updateBestOverlay();
    void addRecentFile(const QString &path);
    void rememberDirectory(const QString &directory);
    // The status-bar line of the dimension under the cursor in the periods view.
    void showHoveredDimension(int index);
    void updateTitle();
    // Runs `work`; an rs::Error (bad input, naming the file) is reported and the document is left
    // exactly as it was, since core throws before anything is applied.
    // The status bar message after opening a config, preset or session, with the reader's warnings.
    void showOpened(const QString &message, const QStringList &warnings);
    bool attempt(const std::function<void()> &work);
    void reportError(const QString &message);
    // Asks to save unsaved edits; false means the user cancelled.
    bool maybeSaveChanges();
    bool saveSessionInteractively(bool askForPath);
    // `defaultSuffix` (no dot) is added to a name typed without one.
    QString askSavePath(const QString &caption, const QString &suggestedName, const QString &filter,
                        const QString &defaultSuffix);
    QString askOpenPath(const QString &caption, const QString &filter);
    QString suggestedBaseName() const;
    double defaultTargetLength(const rs::RopeConfig &config) const;
    void offerRunModel(const QString &logPath);

    rs::FactorDocument *m_document;
    rs::PeriodsPlot *m_periodsPlot;
    rs::FactorsView *m_factorsView;
    rs::ControlPanel *m_controlPanel;
    QSplitter *m_viewSplitter;
    QTabWidget *m_centralTabs;
    QDockWidget *m_panelDock;
    rs::EvaluationThread *m_evaluation;
    rs::SearchPanel *m_searchPanel;
    QDockWidget *m_searchDock;
    rs::WorkbenchPanel *m_workbench;
    QDockWidget *m_workbenchDock;
    QLabel *m_searchStatus;
    QMenu *m_recentMenu = nullptr;
    rs::RecentFiles *m_recent = nullptr;
    QString m_displayName;
    QString m_sessionPath;
    QString m_lastDirectory;
    QString m_lastError;
    QString m_loadedModelDir;  // the folder of the model the evaluation thread holds
    QString m_embeddedModelDir;  // the embedded model's cache folder, once it was opened
    QString m_requestedTokenizer;  // the tokenizer.json the latest loadModel named (empty: the folder's)
    bool m_promptsEnabled = true;
    // The search dock was raised before the window was first shown (a run followed or a model loaded
    // from the command line): its tab group has no tab bar yet, so the raise is repeated once shown.
    bool m_raiseSearchDockWhenShown = false;
};
