//! Windows and macOS: the tray lives on the main thread's event loop (tao), as both OSes
//! require. Views arrive from the agent through a small forwarding thread that wakes the loop.
//! Unverified on this project's Linux CI: written against the tao and tray-icon documentation.

use tao::event::{Event, StartCause};
use tao::event_loop::{ControlFlow, EventLoopBuilder};
use tao::platform::run_return::EventLoopExtRunReturn;
use tokio::sync::{mpsc, watch};

use super::widgets::{install_handlers, remove_handlers, Widgets};
use super::{TrayError, TrayExit};
use crate::report::view::{Command, View};

/// What wakes the event loop.
enum Wake {
    View(View),
    AgentStopped,
}

/// Runs the event loop on the calling (main) thread until the agent drops its `View` sender.
pub fn run(
    views: watch::Receiver<View>,
    commands: mpsc::UnboundedSender<Command>,
) -> Result<TrayExit, TrayError> {
    let mut event_loop = EventLoopBuilder::<Wake>::with_user_event().build();
    let proxy = event_loop.create_proxy();
    let mut forwarded = views.clone();
    std::thread::Builder::new()
        .name("tray-views".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
                let _ = proxy.send_event(Wake::AgentStopped);
                return;
            };
            runtime.block_on(async {
                while forwarded.changed().await.is_ok() {
                    let view = forwarded.borrow_and_update().clone();
                    if proxy.send_event(Wake::View(view)).is_err() {
                        return;
                    }
                }
                let _ = proxy.send_event(Wake::AgentStopped);
            });
        })
        .map_err(|e| TrayError::Create(e.to_string()))?;

    install_handlers(views.clone(), commands);
    let mut widgets: Option<Widgets> = None;
    let mut failure = None;
    event_loop.run_return(|event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        let outcome = match event {
            // macOS wants the status item created once the application has launched.
            Event::NewEvents(StartCause::Init) => {
                Widgets::new(&views.borrow()).map(|w| widgets = Some(w))
            }
            Event::UserEvent(Wake::View(view)) => match widgets.as_mut() {
                Some(w) => w.update(&view),
                None => Ok(()),
            },
            Event::UserEvent(Wake::AgentStopped) => {
                widgets = None;
                *control_flow = ControlFlow::Exit;
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = outcome {
            failure = Some(e);
            widgets = None;
            *control_flow = ControlFlow::Exit;
        }
    });
    remove_handlers();
    match failure {
        Some(e) => Err(e),
        None => Ok(TrayExit::Closed),
    }
}
