//! Which files make the configuration, who wrote each, and the order they are laid in:
//! built-in defaults < the system file < the person's own file (or `--config FILE`) < the
//! enforced files < the admin policy (`managed_layer`).
//!
//! The system file holds the admins' defaults, which a person's file may override. The
//! enforced files, `enforced.toml` beside the system file and then `enforced.d/*.toml` in name
//! order (a drop-in directory, for configuration-management tools), hold what the admins
//! impose: they lie over every other file, so no person's file overrides them, and `config
//! show` says so. Only the person's own file may not turn on what lowers the protection of the
//! password (`protected::ADMIN_ONLY`). Every file has the same schema; every error names the
//! file, the line and the key.

use std::path::{Path, PathBuf};

use super::{protected, Config, ConfigError};
use crate::system::managed::{policy_place, AdminPolicy};

/// Environment variable that points the system layer elsewhere (for staging a deployment). It
/// moves the enforced files too, which sit beside the system file: whoever sets the agent's
/// environment decides its configuration.
pub const SYSTEM_CONFIG_ENV: &str = "SIGNIN_ASSISTANT_SYSTEM_CONFIG";

/// The name of the enforced file, beside the system file.
pub const ENFORCED_FILE: &str = "enforced.toml";
/// The drop-in directory of enforced files, beside the system file.
pub const ENFORCED_DIR: &str = "enforced.d";

/// Who wrote a configuration file: what it may set, and whether a person may override it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The admins' defaults (the system file): a person's file may override each value.
    System,
    /// The person's own file or `--config FILE`: may not turn on an admin-only setting.
    User,
    /// What the admins impose (`enforced.toml`, `enforced.d/`): no person's file overrides it.
    Enforced,
}

/// One file of the configuration, in its layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    pub path: PathBuf,
    pub layer: Layer,
    /// The text to use instead of reading `path` (a file about to be written).
    pub text: Option<String>,
}

impl LayerFile {
    pub fn new(path: impl Into<PathBuf>, layer: Layer) -> LayerFile {
        LayerFile {
            path: path.into(),
            layer,
            text: None,
        }
    }
}

impl Config {
    /// Loads the layers for this machine and user; `explicit` (`--config`) replaces the user file.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        if let Some(path) = explicit.filter(|path| !path.is_file()) {
            return Err(ConfigError {
                file: path.to_path_buf(),
                line: None,
                key: None,
                message: "no such file".into(),
            });
        }
        let user_file = explicit.map(Path::to_path_buf).or_else(user_config_path);
        let user = user_file
            .clone()
            .map(|path| LayerFile::new(path, Layer::User));
        let mut config = Config::merge(&machine_files(user)?, &AdminPolicy::read()?)?;
        config.user_file = user_file;
        Ok(config)
    }

    /// The configuration as it is once `text` is the person's file at `path`, before it is
    /// written (what `setup` tests).
    pub fn with_user_text(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let user = LayerFile {
            text: Some(text.to_string()),
            ..LayerFile::new(path, Layer::User)
        };
        let mut config = Config::merge(&machine_files(Some(user))?, &AdminPolicy::read()?)?;
        config.user_file = Some(path.to_path_buf());
        Ok(config)
    }

    /// The admins' layers alone: the system file, the enforced files and the policy (what
    /// `setup` builds on; a broken one is the admins' to fix, and said).
    pub fn admin_layers() -> Result<Config, ConfigError> {
        Config::merge(&machine_files(None)?, &AdminPolicy::read()?)
    }

    /// Merges the given files (missing ones are skipped), lowest layer first, each as an
    /// admin's system file, and validates: for tools and tests that read one known file.
    pub fn from_files(files: &[PathBuf]) -> Result<Config, ConfigError> {
        let files: Vec<LayerFile> = files
            .iter()
            .map(|path| LayerFile::new(path, Layer::System))
            .collect();
        Config::merge(&files, &AdminPolicy::default())
    }

    /// Merges the files in the order given (missing ones are skipped), lays the admin policy
    /// over them, and validates.
    pub fn merge(files: &[LayerFile], policy: &AdminPolicy) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        for file in files {
            let text = match &file.text {
                Some(text) => text.clone(),
                None => match read(&file.path)? {
                    Some(text) => text,
                    None => continue,
                },
            };
            config.apply_layer(&file.path, &text, file.layer)?;
        }
        config.apply_policy(policy)?;
        config.validate()?;
        Ok(config)
    }

    /// Parses one file's text and lays it over the current values, as `layer` may.
    pub fn apply_layer(
        &mut self,
        file: &Path,
        text: &str,
        layer: Layer,
    ) -> Result<(), ConfigError> {
        self.apply_text(file, text)?;
        match layer {
            Layer::System => {}
            Layer::User => {
                if let Some(rule) = protected::lowered_by(self, file) {
                    let message = format!("{}, in {}", rule.what, admin_places(rule.key));
                    return Err(self.error_at(rule.key, message));
                }
            }
            Layer::Enforced => {
                self.origins.enforce(file);
                self.enforced_files.push(file.to_path_buf());
            }
        }
        self.files.push(file.to_path_buf());
        Ok(())
    }
}

/// Where the admins set `key` on this system, for the error that refuses it in a person's
/// file: the system file, the enforced file, and the policy where the system has one.
fn admin_places(key: &str) -> String {
    let system = system_config_path();
    let mut places = vec![
        system.display().to_string(),
        enforced_file(&system).display().to_string(),
    ];
    places.extend(policy_place(key));
    let last = places.pop().unwrap_or_default();
    format!("{} or {last}", places.join(", "))
}

/// A file's text; `None` when it does not exist.
fn read(path: &Path) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(cannot_read(path, &e)),
    }
}

fn cannot_read(path: &Path, e: &std::io::Error) -> ConfigError {
    ConfigError {
        file: path.to_path_buf(),
        line: None,
        key: None,
        message: format!("cannot read it: {e}"),
    }
}

/// This machine's files, lowest layer first (see [`files_beside`]).
fn machine_files(user: Option<LayerFile>) -> Result<Vec<LayerFile>, ConfigError> {
    files_beside(&system_config_path(), user)
}

/// The files of the layers around the system file `system`, lowest first: `system`, `user`
/// (the person's file, if any), `enforced.toml` beside `system`, then `enforced.d/*.toml` in
/// name order.
fn files_beside(system: &Path, user: Option<LayerFile>) -> Result<Vec<LayerFile>, ConfigError> {
    let mut files = vec![LayerFile::new(system, Layer::System)];
    files.extend(user);
    files.push(LayerFile::new(enforced_file(system), Layer::Enforced));
    let dir = enforced_dir(system);
    let drop_ins = drop_ins(&dir).map_err(|e| cannot_read(&dir, &e))?;
    files.extend(
        drop_ins
            .into_iter()
            .map(|f| LayerFile::new(f, Layer::Enforced)),
    );
    Ok(files)
}

/// The files whose changes change the configuration, read or not (the agent that waits for a
/// configuration compares their times): the system file, `user`, the enforced file, the
/// drop-in directory (a file added or removed) and the files in it.
pub fn watched_files(user: Option<&Path>) -> Vec<PathBuf> {
    watched_beside(&system_config_path(), user)
}

fn watched_beside(system: &Path, user: Option<&Path>) -> Vec<PathBuf> {
    let dir = enforced_dir(system);
    let mut files = vec![system.to_path_buf()];
    files.extend(user.map(Path::to_path_buf));
    files.push(enforced_file(system));
    files.extend(drop_ins(&dir).unwrap_or_default());
    files.push(dir);
    files
}

/// `enforced.toml` beside the system file `system`.
pub fn enforced_file(system: &Path) -> PathBuf {
    system.with_file_name(ENFORCED_FILE)
}

/// `enforced.d` beside the system file `system`.
pub fn enforced_dir(system: &Path) -> PathBuf {
    system.with_file_name(ENFORCED_DIR)
}

/// The `*.toml` files of `dir` in name order (none when it does not exist). Hidden files are
/// left out, and so are the backups editors and package managers leave (`x.toml~`,
/// `x.toml.dpkg-old`), which do not end in `.toml`.
fn drop_ins(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".toml") && !name.starts_with('.') {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The admins' file: `/etc/signin-assistant/config.toml` on Unix (or `$SIGNIN_ASSISTANT_SYSTEM_CONFIG`).
pub fn system_config_path() -> PathBuf {
    // An empty value is no path (it would put the enforced file in the current directory).
    if let Some(path) = std::env::var_os(SYSTEM_CONFIG_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    #[cfg(windows)]
    {
        let base = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
        PathBuf::from(base)
            .join("signin-assistant")
            .join("config.toml")
    }
    #[cfg(target_os = "macos")]
    {
        PathBuf::from("/Library/Application Support/signin-assistant/config.toml")
    }
    #[cfg(freedesktop)]
    {
        PathBuf::from("/etc/signin-assistant/config.toml")
    }
}

/// The user's file: `$XDG_CONFIG_HOME/signin-assistant/config.toml` on Linux.
pub fn user_config_path() -> Option<PathBuf> {
    crate::system::paths::project_dirs().map(|d| d.config_dir().join("config.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::config::Origin;

    /// A staged system directory: the system file, a person's file and the enforced files.
    struct Staged {
        dir: tempfile::TempDir,
    }

    impl Staged {
        fn new() -> Staged {
            Staged {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        /// Writes `name` ('/'-separated, joined as the system joins paths) under the directory.
        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = name
                .split('/')
                .fold(self.dir.path().to_path_buf(), |p, c| p.join(c));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        }

        fn system(&self) -> PathBuf {
            self.dir.path().join("config.toml")
        }

        fn user(&self) -> PathBuf {
            self.dir.path().join("home/config.toml")
        }

        /// Every layer as `load` lays them, without a policy.
        fn load(&self) -> Result<Config, ConfigError> {
            let user = LayerFile::new(self.user(), Layer::User);
            Config::merge(
                &files_beside(&self.system(), Some(user))?,
                &AdminPolicy::default(),
            )
        }
    }

    #[test]
    fn the_enforced_file_wins_over_the_user_file_and_is_named_as_enforced() {
        let staged = Staged::new();
        staged.write(
            "config.toml",
            "[ldap]\nurl = \"ldaps://default.example.com\"\n[policy]\nwarning_days = 10\n",
        );
        staged.write(
            "home/config.toml",
            "[ldap]\nurl = \"ldaps://elsewhere.example.net\"\n\
             [portal]\nurl = \"https://elsewhere.example.net/\"\n[policy]\nwarning_days = 7\n",
        );
        let enforced = staged.write(
            "enforced.toml",
            "[ldap]\nurl = \"ldaps://dc.corp.example\"\n\n[portal]\nurl = \"https://id.corp.example/\"\n",
        );
        let config = staged.load().unwrap();
        assert_eq!(
            config.ldap.url.as_ref().unwrap().as_str(),
            "ldaps://dc.corp.example"
        );
        assert_eq!(config.portal.url.as_str(), "https://id.corp.example/");
        assert_eq!(
            config.origin("ldap.url"),
            Origin::Enforced {
                path: enforced.clone(),
                line: 2
            }
        );
        assert_eq!(
            config.origin("portal.url"),
            Origin::Enforced {
                path: enforced,
                line: 5
            }
        );
        assert!(config.origin("portal.url").is_enforced());
        // What the admins do not impose stays the person's.
        assert_eq!(config.policy.warning_days, 7);
        assert!(!config.origin("policy.warning_days").is_enforced());
    }

    #[test]
    fn drop_ins_lie_over_the_enforced_file_in_name_order() {
        let staged = Staged::new();
        staged.write(
            "enforced.toml",
            "[policy]\nwarning_days = 1\nurgent_days = 1\n",
        );
        staged.write("enforced.d/20-later.toml", "[policy]\nwarning_days = 20\n");
        let first = staged.write(
            "enforced.d/10-first.toml",
            "[policy]\nwarning_days = 10\nurgent_days = 2\n",
        );
        let later = staged.dir.path().join("enforced.d").join("20-later.toml");
        // Not read: hidden files and what editors and dpkg leave behind (not even TOML here).
        for skipped in [".hidden.toml", "30-x.toml~", "30-x.toml.dpkg-old", "README"] {
            staged.write(&format!("enforced.d/{skipped}"), "not = [toml");
        }
        staged.write(
            "home/config.toml",
            "[policy]\nwarning_days = 5\nurgent_days = 4\n",
        );
        let config = staged.load().unwrap();
        assert_eq!(config.policy.warning_days, 20);
        assert_eq!(config.policy.urgent_days, 2);
        assert_eq!(
            config.origin("policy.warning_days").to_string(),
            format!("{}:2", later.display())
        );
        assert_eq!(
            config.origin("policy.urgent_days").to_string(),
            format!("{}:3", first.display())
        );
        let names: Vec<_> = config
            .files
            .iter()
            .map(|f| f.strip_prefix(staged.dir.path()).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            names,
            [
                "home/config.toml",
                "enforced.toml",
                "enforced.d/10-first.toml",
                "enforced.d/20-later.toml"
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn an_error_in_an_enforced_file_names_file_line_and_key() {
        let staged = Staged::new();
        let drop_in = staged.write(
            "enforced.d/50-corp.toml",
            "[ldap]\nurl = \"ldaps://dc.corp.example\"\nstarttls = \"yes\"\n",
        );
        let err = staged.load().unwrap_err();
        assert_eq!(err.file, drop_in);
        assert_eq!(err.line, Some(3));
        assert_eq!(err.key.as_deref(), Some("ldap.starttls"));
    }

    #[test]
    fn only_the_admins_files_may_turn_on_an_insecure_setting() {
        let staged = Staged::new();
        let user = staged.write(
            "home/config.toml",
            "[provider]\nkind = \"ldap\"\n[ldap]\nurl = \"ldap://dc.corp.example\"\nallow_insecure = true\n",
        );
        let err = staged.load().unwrap_err();
        assert_eq!(err.file, user);
        assert_eq!(err.line, Some(5));
        assert_eq!(err.key.as_deref(), Some("ldap.allow_insecure"));
        assert!(
            err.message
                .contains("only your administrator can turn it on"),
            "{err}"
        );
        // "…config.toml or …enforced.toml", or on Windows and macOS "…config.toml, …enforced.toml
        // or the policy value …".
        assert!(
            err.message.contains("config.toml or ") || err.message.contains("config.toml, "),
            "{err}"
        );
        assert!(err.message.contains("enforced.toml"), "{err}");

        // The same line in the system file or the enforced file is the admins' decision.
        for admins in ["config.toml", "enforced.toml"] {
            std::fs::remove_file(&user).ok();
            staged.write(admins, "[ldap]\nallow_insecure = true\n");
            staged.write(
                "home/config.toml",
                "[ldap]\nurl = \"ldap://dc.corp.example\"\n",
            );
            assert!(staged.load().unwrap().ldap.allow_insecure, "{admins}");
            std::fs::remove_file(staged.dir.path().join(admins)).unwrap();
        }
    }

    #[test]
    fn watched_files_include_the_enforced_ones_and_the_drop_in_directory() {
        let staged = Staged::new();
        let drop_in = staged.write("enforced.d/10-a.toml", "");
        let user = staged.user();
        let root = staged.dir.path();
        assert_eq!(
            watched_beside(&staged.system(), Some(&user)),
            [
                staged.system(),
                user.clone(),
                root.join("enforced.toml"),
                drop_in,
                root.join("enforced.d"),
            ]
        );
    }
}
