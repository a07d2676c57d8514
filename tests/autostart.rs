//! Starting at login, end to end: `autostart enable|disable|status` write and remove the XDG
//! autostart entry, real autostart runners honour what they wrote (Debian's `dex`, the
//! freedesktop runner many light desktops use, and systemd's xdg-autostart-generator), an
//! entry installed for all users is respected and overridden per user, a desktop login through
//! `dex -a` starts the agent with its tray item, and the tray's "Start at login" checkbox
//! changes the same entry.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use emulator::Scenario;
use support::entra::EntraFixture;
use support::{require, Keyring, Session, SessionBuilder, BIN};

const GENERATOR: &str = "/usr/lib/systemd/user-generators/systemd-xdg-autostart-generator";
const UNIT: &str = "app-signin\\x2dassistant@autostart.service";

fn user_entry(s: &Session) -> PathBuf {
    s.home().join(".config/autostart/signin-assistant.desktop")
}

fn admin_entry(s: &Session) -> PathBuf {
    s.path("etc/xdg/autostart/signin-assistant.desktop")
}

/// What an administrator (or the package) puts in /etc/xdg/autostart.
fn install_admin_entry(s: &Session) {
    let path = admin_entry(s);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        format!("[Desktop Entry]\nType=Application\nName=signin-assistant\nExec={BIN} run\n"),
    )
    .unwrap();
}

/// `autostart ARGS`: exit 0 and its stdout.
fn autostart(s: &Session, action: &str) -> String {
    let out = s.run(&["autostart", action], "");
    assert_eq!(
        out.status.code(),
        Some(0),
        "autostart {action}: {}",
        support::stderr(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The commands `dex -a` would run at login (dry run).
fn dex_would_run(s: &Session) -> Vec<String> {
    require(&[("dex", "dex")]);
    let out = s.output("dex", &["-a", "-d", "-e", "XFCE"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("Executing command: "))
        .map(str::to_string)
        .collect()
}

/// The ExecStart of the unit systemd's generator makes for us, if it makes one.
fn systemd_would_run(s: &Session) -> Option<String> {
    assert!(
        Path::new(GENERATOR).is_file(),
        "{GENERATOR} is missing; install with: apt-get install -y systemd"
    );
    let out_dir = tempfile::tempdir().unwrap();
    let dir = out_dir.path().to_str().unwrap();
    let out = s.output(GENERATOR, &[dir, dir, dir]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let unit = std::fs::read_to_string(out_dir.path().join(UNIT)).ok()?;
    unit.lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .map(str::to_string)
}

#[test]
fn commands_write_the_entry_that_autostart_runners_honour() {
    let s = Session::start(Keyring::Absent);
    assert_eq!(autostart(&s, "status"), "Start at login: off.\n");
    assert!(dex_would_run(&s).is_empty());
    assert_eq!(systemd_would_run(&s), None);

    let said = autostart(&s, "enable");
    assert!(
        said.starts_with(&format!("Start at login: on: {}", user_entry(&s).display())),
        "{said}"
    );
    let text = std::fs::read_to_string(user_entry(&s)).unwrap();
    assert!(text.contains(&format!("\nExec={BIN} run\n")), "{text}");
    assert!(
        text.contains("\nX-GNOME-Autostart-enabled=true\n"),
        "{text}"
    );
    assert!(text.contains("\nIcon=signin-assistant\n"), "{text}");
    assert_eq!(dex_would_run(&s), [format!("{BIN} run")]);
    let exec = systemd_would_run(&s).expect("a unit for the entry");
    assert!(exec.contains(&format!("{BIN} run")), "{exec}");
    assert!(autostart(&s, "status").starts_with("Start at login: on: "));

    assert_eq!(autostart(&s, "disable"), "Start at login: off.\n");
    assert!(!user_entry(&s).exists());
    assert!(dex_would_run(&s).is_empty());
    assert_eq!(systemd_would_run(&s), None);
}

#[test]
fn an_entry_for_all_users_is_respected_and_turned_off_per_user() {
    let s = Session::start(Keyring::Absent);
    install_admin_entry(&s);
    let said = autostart(&s, "status");
    assert!(
        said.contains("set up by your administrator")
            && said.contains(&admin_entry(&s).display().to_string()),
        "{said}"
    );
    assert_eq!(dex_would_run(&s), [format!("{BIN} run")]);

    // Off for this person only: the standard override, which both runners honour.
    let said = autostart(&s, "disable");
    assert!(
        said.contains("you turned off the entry your administrator"),
        "{said}"
    );
    let text = std::fs::read_to_string(user_entry(&s)).unwrap();
    assert!(text.contains("\nHidden=true\n"), "{text}");
    assert!(
        admin_entry(&s).exists(),
        "the administrator's entry is left alone"
    );
    assert!(dex_would_run(&s).is_empty());
    assert_eq!(systemd_would_run(&s), None);
    assert!(autostart(&s, "status").contains("you turned off"));

    // On again: the override goes, the administrator's entry applies again.
    let said = autostart(&s, "enable");
    assert!(said.contains("set up by your administrator"), "{said}");
    assert!(!user_entry(&s).exists());
    assert!(systemd_would_run(&s).is_some());
}

/// `dex -a`, as a desktop session runs it at login; the programs it starts are in its process
/// group, which is killed on drop.
struct Login {
    dex: Child,
}

impl Login {
    fn run(s: &Session) -> Login {
        require(&[("dex", "dex")]);
        let log = std::fs::File::create(s.path("logs/dex.log")).unwrap();
        let mut dex = s.command("dex");
        dex.args(["-a", "-e", "XFCE"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let mut dex = support::own_process_group(&mut dex)
            .spawn()
            .expect("start dex");
        let status = dex.wait().expect("dex ends once it started everything");
        assert!(status.success(), "dex failed:\n{}", s.logs());
        Login { dex }
    }
}

impl Drop for Login {
    fn drop(&mut self) {
        let group = format!("-{}", self.dex.id());
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn a_desktop_login_starts_the_agent_with_its_tray_item() {
    let f = EntraFixture::on(
        SessionBuilder::desktop().start(),
        Scenario::expires_in_days(10),
        "",
    );
    f.must_sign_in();
    let s = &f.session;
    // The agent started at login reads the person's own configuration file.
    let own = s.home().join(".config/signin-assistant/config.toml");
    std::fs::create_dir_all(own.parent().unwrap()).unwrap();
    std::fs::copy(&f.config, &own).unwrap();
    autostart(s, "enable");

    let _login = Login::run(s);
    let item = s.wait_for_tray_item();
    s.wait_until("the status in the tooltip", || {
        s.tray_tooltip(&item)
            .contains("Password expires in 10 days (")
    });
    let start_at_login = s
        .menu_entries(&item)
        .into_iter()
        .find(|e| e.label == "Start at login")
        .expect("the entry");
    assert!(start_at_login.enabled);
    // No terminal at login: the agent's messages are in its log file.
    s.wait_until("the agent's log file", || {
        s.agent_log_text().contains("agent started")
    });

    s.menu_click(&item, "Quit");
    s.wait_until("the tray item gone", || s.tray_items().is_empty());
}

/// The "Start at login" entry of the menu: (enabled, checked).
fn checkbox(s: &Session, item: &str) -> (bool, Option<bool>) {
    let entry = s
        .menu_entries(item)
        .into_iter()
        .find(|e| e.label == "Start at login")
        .expect("a Start at login entry");
    (entry.enabled, entry.checked)
}

fn wait_checkbox(s: &Session, item: &str, checked: bool) {
    s.wait_until(&format!("Start at login ticked = {checked}"), || {
        checkbox(s, item) == (true, Some(checked))
    });
}

#[test]
fn the_tray_checkbox_changes_the_same_entry() {
    let f = EntraFixture::on(
        SessionBuilder::desktop().start(),
        Scenario::expires_in_days(10),
        "",
    );
    let s = &f.session;
    let agent = s.start_agent("agent", &f.config, &[]);
    let item = s.wait_for_tray_item();
    wait_checkbox(s, &item, false);

    s.menu_click(&item, "Start at login");
    wait_checkbox(s, &item, true);
    let text = std::fs::read_to_string(user_entry(s)).unwrap();
    assert!(text.contains(&format!("\nExec={BIN} run\n")), "{text}");
    assert!(autostart(s, "status").starts_with("Start at login: on: "));

    s.menu_click(&item, "Start at login");
    wait_checkbox(s, &item, false);
    assert!(!user_entry(s).exists());

    // With an entry for all users: ticking leaves it to that entry, unticking overrides it.
    install_admin_entry(s);
    s.menu_click(&item, "Start at login");
    wait_checkbox(s, &item, true);
    assert!(!user_entry(s).exists());
    s.menu_click(&item, "Start at login");
    wait_checkbox(s, &item, false);
    let text = std::fs::read_to_string(user_entry(s)).unwrap();
    assert!(text.contains("\nHidden=true\n"), "{text}");
    assert!(agent.log().contains("start at login"), "{}", agent.log());
    assert_eq!(
        agent.terminate(std::time::Duration::from_secs(3)).code(),
        Some(0)
    );
}
