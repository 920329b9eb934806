//! Pages: the minijinja environment over `templates/web/` (embedded, or a
//! folder reloaded on change with `--dev-templates`), and rendering a page
//! with what every page shows (who is signed in, the navigation for their
//! role, the forum's name).

use axum::response::Html;
use fedreport_access::{Account, Action, Role, authorize};
use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::state::AppState;

/// The page environment: HTML escaping for every `.html` template.
pub fn environment(dev: Option<&std::path::Path>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    match dev {
        Some(dir) => {
            env.set_loader(minijinja::path_loader(dir));
            env.set_auto_reload(true);
        }
        None => embedded(&mut env),
    }
    env.add_filter("thousands", |n: i64| fedreport_render::filters::thousands(n));
    env.add_filter("words", |s: String| s.replace('_', " "));
    env
}

/// The templates built into the binary (build.rs); the generated code
/// spells out `minijinja::Environment`.
#[allow(unused_qualifications)]
fn embedded(target: &mut Environment<'static>) {
    let mut env = std::mem::take(target);
    minijinja_embed::load_templates!(&mut env);
    *target = env;
}

/// A link of the navigation bar.
#[derive(Debug, Serialize)]
struct NavLink {
    href: String,
    label: &'static str,
}

fn nav(user: &Account) -> Vec<NavLink> {
    let mut links = Vec::new();
    let mut add = |ok: bool, href: String, label| {
        if ok {
            links.push(NavLink { href, label });
        }
    };
    if let Some(m) = &user.member {
        add(authorize(user, &Action::SeeReturns { member: m }).is_ok(), format!("/members/{m}/returns"), "Our returns");
    }
    add(authorize(user, &Action::SeeBoard).is_ok(), "/board".into(), "Completeness");
    add(authorize(user, &Action::SeeRuns).is_ok(), "/runs".into(), "Runs and tables");
    add(authorize(user, &Action::SeeLog).is_ok(), "/log".into(), "Audit log");
    add(true, "/datasets".into(), "Datasets and templates");
    links
}

/// Render a template to a string.
pub fn render_html(state: &AppState, name: &str, ctx: Value) -> Result<String> {
    let t = state.0.env.get_template(name).map_err(AppError::internal)?;
    t.render(ctx).map_err(AppError::internal)
}

/// A page for a signed-in person: `ctx` plus who they are and their navigation.
pub fn page(state: &AppState, user: &Account, name: &str, ctx: Value) -> Result<Html<String>> {
    let common = context! {
        user => context! {
            name => user.username.clone(),
            role => user.role.words(),
            member => user.member.clone(),
            is_secretariat => user.role == Role::Secretariat,
        },
        nav => Serde(nav(user)),
        forum => state.forum().short.clone(),
        contract => state.forum().contract.title().to_string(),
    };
    let merged = context! { ..ctx, ..common };
    Ok(Html(render_html(state, name, merged)?))
}

/// A page for someone not signed in (the login page).
pub fn public_page(state: &AppState, name: &str, ctx: Value) -> Result<Html<String>> {
    let common = context! { forum => state.forum().short.clone() };
    Ok(Html(render_html(state, name, context! { ..ctx, ..common })?))
}
