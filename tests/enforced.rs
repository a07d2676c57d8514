//! What the admins impose, through the real binary with a staged system directory: the
//! enforced file beside the system file wins over the person's own file and `config show` says
//! so; what lowers the protection of the password is refused in the person's file (exit 2,
//! naming the file, the line and the key) and taken from the admins' files.

mod support;

use support::{json_of, stderr, Keyring, Session};

/// An LDAP configuration the person might write, pointing at a server of their choosing.
const USER_LDAP: &str =
    "[provider]\nkind = \"ldap\"\n\n[ldap]\nurl = \"ldaps://elsewhere.example.net\"\n\
                         bind = \"{username}\"\nbase = \"dc=example,dc=net\"\n";

/// The line of `text` that starts with `start`.
fn line<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no {start:?} in\n{text}"))
}

#[test]
fn the_enforced_file_wins_over_the_users_file_and_config_show_says_so() {
    let s = Session::start(Keyring::Absent);
    s.write_system_config("[ldap]\nurl = \"ldaps://default.corp.example\"\n");
    let enforced = s.write_enforced_config(
        "# imposed by IT\n[ldap]\nurl = \"ldaps://dc.corp.example\"\nca_file = \"/etc/ssl/corp.pem\"\n",
    );
    let drop_in = s.write_config(
        "etc/enforced.d/50-portal.toml",
        "[portal]\nurl = \"https://id.corp.example/password\"\n",
    );
    // The person's own file, where `setup` writes, not `--config`.
    let user = s.write_config(
        "home/.config/signin-assistant/config.toml",
        &format!("{USER_LDAP}\n[portal]\nurl = \"https://elsewhere.example.net/\"\n"),
    );

    let out = s.run(&["config", "show"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let enforced_by = "# enforced by your administrator: ";
    assert!(
        line(&text, "url = \"ldaps://dc.corp.example\"")
            .ends_with(&format!("{enforced_by}{}:3", enforced.display())),
        "{text}"
    );
    assert!(
        line(&text, "url = \"https://id.corp.example/password\"")
            .ends_with(&format!("{enforced_by}{}:2", drop_in.display())),
        "{text}"
    );
    // What the admins left to the person stays theirs.
    assert!(
        line(&text, "base = ").ends_with(&format!("# {}:7", user.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "#   {}  (enforced by your administrator)\n",
            enforced.display()
        )),
        "{text}"
    );

    let out = s.run(&["config", "show", "--json"], "");
    let json = json_of(&out);
    let url = json["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "ldap.url")
        .unwrap()
        .clone();
    assert_eq!(url["value"], "\"ldaps://dc.corp.example\"");
    assert_eq!(url["enforced"], true);

    // `--config FILE` takes the user file's place, and the enforced values win over it too.
    let explicit = s.write_config("mine.toml", USER_LDAP);
    let out = s.run_with_config(&explicit, &["config", "show"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        line(&text, "url = \"ldaps://dc.corp.example\"").contains(enforced_by),
        "{text}"
    );
}

#[test]
fn the_users_file_cannot_turn_on_what_lowers_protection() {
    let s = Session::start(Keyring::Absent);
    let mine = s.write_config(
        "mine.toml",
        &format!("{USER_LDAP}starttls = false\nallow_insecure = true\n"),
    );
    // Made plain ldap:// on a trusted network is the admins' decision, not the person's.
    let plain = s.write_config(
        "plain.toml",
        &USER_LDAP.replace("ldaps://elsewhere", "ldap://elsewhere"),
    );
    let out = s.run_with_config(&mine, &["status"], "");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:9: key `ldap.allow_insecure`", mine.display())),
        "{err}"
    );
    assert!(
        err.contains("only your administrator can turn it on"),
        "{err}"
    );
    assert!(err.contains("etc/enforced.toml"), "{err}");

    let out = s.run_with_config(
        &s.write_config(
            "trust.toml",
            "[portal]\ntrusted = [\"https://evil.example/\"]\n",
        ),
        &["status"],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("key `portal.trusted`"),
        "{}",
        stderr(&out)
    );

    // The same setting in the admins' system file is taken.
    s.write_system_config("[ldap]\nallow_insecure = true\n");
    let out = s.run_with_config(&plain, &["config", "show"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        line(&text, "allow_insecure = true").contains("etc/config.toml:2"),
        "{text}"
    );
}
