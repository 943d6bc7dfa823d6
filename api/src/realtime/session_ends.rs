//! Ending a member's login sessions on every node at once: the api announces an ended session
//! (logout, a reused refresh token) or all of a member's sessions in a tenant (removal, a password
//! reset) on the member's bus topic; each of their open agent sockets that belongs to it is sent
//! `session_ended` and closed with 4005. REST needs no announcement: every request checks its
//! token's session (`db::memberships::find_auth_in_session`). Pub/sub is best effort, so agent
//! sockets also re-check their session with their membership (`auth.session_recheck_secs`).

use kefu_protocol::ws::ServerFrame;
use kefu_protocol::{TenantId, UserId};
use uuid::Uuid;

use super::bus::{Bus, BusEvent, Topic};

/// Announces that `session` (or, with `None`, every session) of `user` in `tenant` ended.
pub fn announce(bus: &Bus, tenant: TenantId, user: UserId, session: Option<Uuid>) {
    let event = BusEvent { frame: ServerFrame::SessionEnded, agents_only: true, skip_connection: None };
    let topic = match session {
        Some(session) => Topic::login(tenant, session),
        None => Topic::member(tenant, user),
    };
    bus.publish(&topic, event);
}
