//! Linux and the BSDs: the XDG Autostart Specification. Desktops (GNOME, KDE, XFCE, …) and
//! `systemd --user` (xdg-autostart-generator) start every entry of `$XDG_CONFIG_HOME/autostart`
//! and of each `$XDG_CONFIG_DIRS/autostart`; an entry of the same file name in a more important
//! directory replaces the others, and one with `Hidden=true` means "do not start it". So:
//!
//! - on: the person's own entry, unless an entry installed for all users already starts it;
//! - off: no entry of our name, or the person's own entry with `Hidden=true` over the one
//!   installed for all users.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{AutostartError, AutostartStatus, ENTRY_NAME, HIDDEN_ENTRY};

/// Where autostart entries are looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Places {
    /// `$XDG_CONFIG_HOME`, else `~/.config`.
    config_home: PathBuf,
    /// `$XDG_CONFIG_DIRS`, else `/etc/xdg`, most important first.
    config_dirs: Vec<PathBuf>,
}

impl Places {
    pub fn from_env() -> Result<Places, AutostartError> {
        let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
        let config_home = match std::env::var_os("XDG_CONFIG_HOME").and_then(absolute) {
            Some(dir) => dir,
            None => std::env::var_os("HOME")
                .and_then(absolute)
                .ok_or(AutostartError::NoHome)?
                .join(".config"),
        };
        let config_dirs: Vec<PathBuf> = std::env::var_os("XDG_CONFIG_DIRS")
            .map(|dirs| {
                std::env::split_paths(&dirs)
                    .filter(|p| p.is_absolute())
                    .collect()
            })
            .unwrap_or_default();
        let config_dirs = if config_dirs.is_empty() {
            vec![PathBuf::from("/etc/xdg")]
        } else {
            config_dirs
        };
        Ok(Places {
            config_home,
            config_dirs,
        })
    }

    pub fn under(root: &Path) -> Places {
        Places {
            config_home: root.join("config"),
            config_dirs: vec![root.join("xdg")],
        }
    }

    fn user_entry(&self) -> PathBuf {
        entry_in(&self.config_home)
    }

    /// The entry installed for all users that applies: the first one in `$XDG_CONFIG_DIRS`.
    fn admin_entry(&self) -> Option<PathBuf> {
        self.config_dirs
            .iter()
            .map(|d| entry_in(d))
            .find(|p| p.is_file())
    }
}

fn entry_in(config_dir: &Path) -> PathBuf {
    config_dir
        .join("autostart")
        .join(format!("{ENTRY_NAME}.desktop"))
}

/// What an autostart entry says, as far as starting at login goes.
#[derive(Debug, Default, PartialEq, Eq)]
struct Entry {
    hidden: bool,
    /// `X-GNOME-Autostart-enabled=false`, which GNOME and systemd honour.
    switched_off: bool,
    exec: Option<String>,
}

impl Entry {
    fn starts(&self) -> bool {
        !self.hidden && !self.switched_off && self.exec.is_some()
    }

    /// Reads the keys of the `[Desktop Entry]` group that matter here.
    fn parse(text: &str) -> Entry {
        let mut entry = Entry::default();
        let mut in_group = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_group = line == "[Desktop Entry]";
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if !in_group || line.starts_with('#') {
                continue;
            }
            let value = value.trim();
            match key.trim() {
                "Hidden" => entry.hidden = value == "true",
                "X-GNOME-Autostart-enabled" => entry.switched_off = value == "false",
                "Exec" if !value.is_empty() => entry.exec = Some(value.to_string()),
                _ => {}
            }
        }
        entry
    }

    fn read(path: &Path) -> Result<Option<Entry>, AutostartError> {
        match fs::read_to_string(path) {
            Ok(text) => Ok(Some(Entry::parse(&text))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AutostartError::io("read", path, e)),
        }
    }
}

pub fn status(places: &Places) -> Result<AutostartStatus, AutostartError> {
    let user_path = places.user_entry();
    let user = Entry::read(&user_path)?;
    let admin_path = places.admin_entry();
    let admin = match &admin_path {
        Some(path) => Entry::read(path)?,
        None => None,
    };
    let deciding = user.as_ref().or(admin.as_ref());
    let enabled = deciding.is_some_and(Entry::starts);
    Ok(AutostartStatus {
        enabled,
        user_entry: user.is_some().then(|| user_path.display().to_string()),
        admin_entry: admin_path.map(|p| p.display().to_string()),
        program: deciding
            .filter(|_| enabled)
            .and_then(|e| e.exec.as_deref())
            .and_then(super::desktop_exec_program),
    })
}

/// The entry for all users when it would start the agent by itself (no override).
fn starting_admin_entry(places: &Places) -> Result<Option<PathBuf>, AutostartError> {
    let Some(path) = places.admin_entry() else {
        return Ok(None);
    };
    Ok(Entry::read(&path)?
        .is_some_and(|e| e.starts())
        .then_some(path))
}

pub fn enable(places: &Places, program: &Path) -> Result<(), AutostartError> {
    if starting_admin_entry(places)?.is_some() {
        // The entry for all users starts it as soon as the person's override is gone.
        return remove(&places.user_entry());
    }
    write(&places.user_entry(), &super::desktop_entry(program)?)
}

pub fn disable(places: &Places) -> Result<(), AutostartError> {
    if starting_admin_entry(places)?.is_some() {
        return write(&places.user_entry(), HIDDEN_ENTRY);
    }
    remove(&places.user_entry())
}

/// Writes `text` to `path` through a temporary file in the same directory, so a desktop that
/// reads the directory meanwhile never sees half an entry.
fn write(path: &Path, text: &str) -> Result<(), AutostartError> {
    let dir = path.parent().expect("an entry is inside a directory");
    fs::create_dir_all(dir).map_err(|e| AutostartError::io("create", dir, e))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".signin-assistant")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| AutostartError::io("write into", dir, e))?;
    std::io::Write::write_all(&mut temp, text.as_bytes())
        .map_err(|e| AutostartError::io("write", temp.path(), e))?;
    // Desktops read entries as the user; 0644 like every other autostart file.
    let _ = fs::set_permissions(
        temp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    );
    temp.persist(path)
        .map_err(|e| AutostartError::io("write", path, e.error))?;
    Ok(())
}

fn remove(path: &Path) -> Result<(), AutostartError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(AutostartError::io("remove", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::autostart::LoginItem;

    const PROGRAM: &str = "/opt/signin-assistant/bin/signin-assistant";

    struct Fixture {
        dir: tempfile::TempDir,
        item: LoginItem,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let item = LoginItem::under(dir.path(), Path::new(PROGRAM));
        Fixture { dir, item }
    }

    impl Fixture {
        fn user_file(&self) -> PathBuf {
            self.dir
                .path()
                .join("config/autostart/signin-assistant.desktop")
        }

        fn admin_file(&self) -> PathBuf {
            self.dir
                .path()
                .join("xdg/autostart/signin-assistant.desktop")
        }

        fn install_admin_entry(&self, extra: &str) {
            let path = self.admin_file();
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(
                path,
                format!("[Desktop Entry]\nType=Application\nName=signin-assistant\nExec=/usr/bin/signin-assistant run\n{extra}"),
            )
            .unwrap();
        }

        fn user_text(&self) -> Option<String> {
            fs::read_to_string(self.user_file()).ok()
        }
    }

    #[test]
    fn enable_writes_the_user_entry_and_disable_removes_it() {
        let f = fixture();
        assert_eq!(f.item.status().unwrap(), AutostartStatus::off());

        let on = f.item.enable().unwrap();
        let text = f.user_text().expect("the entry is written");
        assert!(text.contains(&format!("Exec={PROGRAM} run\n")), "{text}");
        assert!(text.contains("X-GNOME-Autostart-enabled=true\n"), "{text}");
        assert!(on.enabled);
        assert_eq!(
            on.user_entry.as_deref(),
            Some(f.user_file().to_str().unwrap())
        );
        assert_eq!(on.program.as_deref(), Some(Path::new(PROGRAM)));
        assert!(!on.by_administrator());
        // Enabling twice is harmless.
        assert_eq!(f.item.enable().unwrap(), on);

        let off = f.item.disable().unwrap();
        assert_eq!(off, AutostartStatus::off());
        assert!(!f.user_file().exists());
        // Nothing but the entry itself was left in the directory.
        let left: Vec<_> = fs::read_dir(f.user_file().parent().unwrap())
            .unwrap()
            .collect();
        assert!(left.is_empty(), "{left:?}");
        assert_eq!(f.item.disable().unwrap(), off);
    }

    #[test]
    fn an_entry_for_all_users_is_respected_and_overridden_per_user() {
        let f = fixture();
        f.install_admin_entry("");
        let admin = f.item.status().unwrap();
        assert!(admin.enabled && admin.by_administrator(), "{admin:?}");
        assert_eq!(
            admin.program.as_deref(),
            Some(Path::new("/usr/bin/signin-assistant"))
        );

        let off = f.item.disable().unwrap();
        assert!(!off.enabled && off.admin_entry_overridden(), "{off:?}");
        let text = f.user_text().expect("the override is written");
        assert!(text.contains("\nHidden=true\n"), "{text}");
        assert!(text.starts_with("[Desktop Entry]\n"), "{text}");
        assert!(f.admin_file().exists(), "the admin's file is left alone");

        // Enabling removes the override: the entry for all users starts it again.
        let on = f.item.enable().unwrap();
        assert_eq!(on, admin);
        assert!(!f.user_file().exists());
    }

    #[test]
    fn an_entry_for_all_users_that_is_switched_off_does_not_count() {
        let f = fixture();
        f.install_admin_entry("Hidden=true\n");
        let status = f.item.status().unwrap();
        assert!(!status.enabled);
        assert!(status.to_string().contains("switched off"), "{status}");
        // Enabling writes the person's own entry, which replaces the one for all users.
        let on = f.item.enable().unwrap();
        assert!(on.enabled && !on.by_administrator(), "{on:?}");
        assert!(f.user_text().unwrap().contains(PROGRAM));
        // And disabling simply removes it again.
        assert!(!f.item.disable().unwrap().enabled);
        assert!(!f.user_file().exists());
    }

    #[test]
    fn a_user_entry_switched_off_the_gnome_way_is_off() {
        let f = fixture();
        let path = f.user_file();
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            &path,
            "[Desktop Entry]\nType=Application\nExec=signin-assistant run\nX-GNOME-Autostart-enabled=false\n",
        )
        .unwrap();
        let status = f.item.status().unwrap();
        assert!(!status.enabled);
        assert!(status.to_string().contains("is switched off"), "{status}");
        // Enabling replaces it with an entry that starts the absolute program.
        assert!(f.item.enable().unwrap().enabled);
        assert!(f
            .user_text()
            .unwrap()
            .contains(&format!("Exec={PROGRAM} run")));
    }

    #[test]
    fn the_first_of_the_config_dirs_decides() {
        let dir = tempfile::tempdir().unwrap();
        let places = Places {
            config_home: dir.path().join("home"),
            config_dirs: vec![dir.path().join("first"), dir.path().join("second")],
        };
        let second = entry_in(&places.config_dirs[1]);
        fs::create_dir_all(second.parent().unwrap()).unwrap();
        fs::write(&second, "[Desktop Entry]\nExec=/second run\n").unwrap();
        assert_eq!(places.admin_entry(), Some(second.clone()));
        let first = entry_in(&places.config_dirs[0]);
        fs::create_dir_all(first.parent().unwrap()).unwrap();
        fs::write(&first, "[Desktop Entry]\nExec=/first run\nHidden=true\n").unwrap();
        assert_eq!(places.admin_entry(), Some(first));
        assert!(!status(&places).unwrap().enabled);
    }

    #[test]
    fn only_the_desktop_entry_group_counts() {
        let entry = Entry::parse(
            "# Hidden=true\n[Desktop Entry]\nExec=/a run\n[Desktop Action x]\nHidden=true\n",
        );
        assert!(entry.starts(), "{entry:?}");
        let entry = Entry::parse("[Desktop Entry]\nExec = /a run\nHidden = true\n");
        assert!(!entry.starts(), "{entry:?}");
    }
}
