//! The first page after login: where each role starts.

use axum::response::Redirect;
use fedreport_access::Role;

use crate::auth::CurrentUser;

pub async fn home(CurrentUser(user): CurrentUser) -> Redirect {
    match (user.role, &user.member) {
        (Role::FocalPoint, Some(m)) => Redirect::to(&format!("/members/{m}/returns")),
        (Role::CoChair, _) => Redirect::to("/runs"),
        _ => Redirect::to("/board"),
    }
}
