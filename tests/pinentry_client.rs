//! The pinentry (Assuan) client against a scripted pinentry: answers, percent-encoded
//! characters, cancel, and programs that are missing or broken.
#![cfg(unix)]

mod support;

use std::path::Path;

use signin_assistant::screen::dialog::change::ChangeRequest;
use signin_assistant::screen::dialog::{pinentry, PromptError, Request};
use support::pinentry::FakePinentry;

async fn ask(fake: &FakePinentry) -> Result<Option<String>, PromptError> {
    let request = Request::for_account("alice@example.com");
    pinentry::ask(&fake.program(), &request)
        .await
        .map(|pin| pin.map(|secret| secret.expose().to_string()))
}

#[tokio::test]
async fn returns_the_pin_and_sends_the_dialog_words_escaped() {
    let fake = FakePinentry::new(Some("correct-horse"));
    assert_eq!(ask(&fake).await.unwrap().as_deref(), Some("correct-horse"));
    let log = fake.log();
    assert!(log.contains("SETTITLE Sign-in Assistant\n"), "{log}");
    assert!(
        log.contains(
            "SETDESC Enter the password of alice@example.com.%0AIt is kept in your keyring"
        ),
        "{log}"
    );
    assert!(log.contains("SETPROMPT Password:\n"), "{log}");
    assert!(log.contains("GETPIN\nBYE\n"), "{log}");
}

#[tokio::test]
async fn decodes_percent_encoded_characters() {
    let fake = FakePinentry::new(Some("p%25ss w%0Ad%2B%C3%A9t%C3%A9"));
    assert_eq!(ask(&fake).await.unwrap().as_deref(), Some("p%ss w\nd+été"));
}

#[tokio::test]
async fn cancel_is_none_not_an_error() {
    let fake = FakePinentry::new(Some("cancel"));
    assert_eq!(ask(&fake).await.unwrap(), None);
}

#[tokio::test]
async fn no_data_line_is_an_empty_pin() {
    let fake = FakePinentry::new(None);
    assert_eq!(ask(&fake).await.unwrap().as_deref(), Some(""));
}

#[tokio::test]
async fn a_missing_program_says_which() {
    let err = pinentry::ask(
        Path::new("/nonexistent/pinentry-x"),
        &Request::for_account("a"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PromptError::Spawn { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/pinentry-x"));
}

#[tokio::test]
async fn a_program_that_is_not_a_pinentry_fails_plainly() {
    let err = pinentry::ask(Path::new("/bin/true"), &Request::for_account("a"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the password dialog failed: pinentry: it ended without an answer"
    );
}

#[test]
fn the_configured_program_wins_and_must_exist() {
    let fake = FakePinentry::new(None);
    let program = fake.program();
    assert_eq!(
        pinentry::choose_program(Some(program.to_str().unwrap())).unwrap(),
        program
    );
    let err = pinentry::choose_program(Some("pinentry-does-not-exist")).unwrap_err();
    assert!(err.to_string().contains("pinentry-does-not-exist"), "{err}");
}

async fn ask_change(fake: &FakePinentry, problem: Option<&str>) -> Option<(String, String)> {
    let request = ChangeRequest {
        account: "alice@example.com".into(),
        problem: problem.map(str::to_string),
    };
    pinentry::ask_change(&fake.program(), &request)
        .await
        .expect("the dialog works")
        .map(|a| (a.current.expose().to_string(), a.new.expose().to_string()))
}

#[tokio::test]
async fn change_dialog_asks_current_then_new_with_repeat_and_quality() {
    let fake = FakePinentry::new(None);
    fake.set_replies(&["old%25pw", "New-Pass-42"]);
    let answers = ask_change(
        &fake,
        Some("The new password was refused: it is too short."),
    )
    .await;
    assert_eq!(
        answers,
        Some(("old%pw".to_string(), "New-Pass-42".to_string()))
    );
    let log = fake.log();
    assert!(
        log.contains("SETERROR The new password was refused: it is too short.\n"),
        "{log}"
    );
    assert!(log.contains("SETPROMPT Current password:\n"), "{log}");
    assert!(log.contains("SETPROMPT New password:\n"), "{log}");
    assert!(log.contains("SETREPEAT Repeat:\n"), "{log}");
    // The quality bar's inquiry was answered with a score, and the PIN was asked twice only.
    assert!(log.contains("SETQUALITYBAR Quality:\n"), "{log}");
    assert!(log.contains("\nD 100\nEND\n"), "{log}");
    assert_eq!(log.matches("GETPIN").count(), 2, "{log}");
    assert!(
        !log.contains("New-Pass-42") && !log.contains("old%pw"),
        "{log}"
    );
}

#[tokio::test]
async fn change_dialog_checks_the_repetition_itself_without_a_repeat_field() {
    let fake = FakePinentry::new(None);
    fake.without_repeat_field();
    // The second entry differs: the new password is asked again, with the reason.
    fake.set_replies(&[
        "old",
        "New-Pass-42",
        "New-Pass-43",
        "New-Pass-44",
        "New-Pass-44",
    ]);
    let answers = ask_change(&fake, None).await;
    assert_eq!(
        answers,
        Some(("old".to_string(), "New-Pass-44".to_string()))
    );
    let log = fake.log();
    assert_eq!(log.matches("GETPIN").count(), 5, "{log}");
    assert!(log.contains("SETPROMPT New password again:\n"), "{log}");
    assert!(
        log.contains("SETERROR The two entries of the new password differ"),
        "{log}"
    );
}

#[tokio::test]
async fn change_dialog_cancelled_at_any_step_is_none() {
    for replies in [&["cancel"][..], &["old", "cancel"][..]] {
        let fake = FakePinentry::new(None);
        fake.set_replies(replies);
        assert_eq!(ask_change(&fake, None).await, None, "{replies:?}");
    }
}
