//! The rule book: which role may do what, for which member. Every route of
//! the web front asks [`authorize`] before it reads or writes anything; the
//! table-driven tests in `tests/it/web.rs` send every role to every route.

use crate::accounts::{Account, Role};

/// Something a person asks to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<'a> {
    /// Read the datasets and download templates.
    ReadContract,
    /// See a member's uploads, receipts and versions.
    SeeReturns { member: &'a str },
    /// Upload, check and submit a return for a member.
    SubmitReturn { member: &'a str },
    /// See the completeness board of every member.
    SeeBoard,
    /// Decide the pending inbox files.
    RunIntake,
    /// Start a pipeline run.
    StartRun,
    /// See runs, their manifests and indicator tables.
    SeeRuns,
    /// Read the drafts of a run.
    ReadDrafts,
    /// Approve a return, send it back to its focal point, or reopen it.
    ReviewReturns,
    /// Lock or unlock a cycle, grant or end a member's exception.
    LockCycle,
    /// Read the audit log (who did what, when and why).
    SeeLog,
    /// Put a run's drafts up for the co-chairs' review.
    PutUpDrafts,
    /// Comment on and clear a draft: the co-chairs' part, nobody else's.
    ClearDrafts,
    /// Withdraw a member's returns: they stay in the lake, no run counts them.
    WithdrawMember,
}

/// A refusal, with the reason people are shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied(pub String);

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// May `who` do `what`? A disabled account may do nothing.
pub fn authorize(who: &Account, what: &Action) -> Result<(), Denied> {
    if who.disabled {
        return Err(Denied("this account is disabled; ask the secretariat".into()));
    }
    let own = |member: &str| who.role == Role::FocalPoint && who.member.as_deref() == Some(member);
    let allowed = match (who.role, what) {
        (_, Action::ReadContract) => true,
        (Role::CoChair, Action::ClearDrafts) => true,
        (_, Action::ClearDrafts) => false,
        (Role::Secretariat, _) => true,
        (Role::FocalPoint, Action::SeeReturns { member } | Action::SubmitReturn { member }) => own(member),
        (Role::FocalPoint, _) => false,
        (
            Role::Observer,
            Action::SeeReturns { .. } | Action::SeeBoard | Action::SeeRuns | Action::ReadDrafts | Action::SeeLog,
        ) => true,
        (Role::CoChair, Action::SeeBoard | Action::SeeRuns | Action::ReadDrafts | Action::SeeLog) => true,
        (Role::Observer | Role::CoChair, _) => false,
    };
    if allowed {
        return Ok(());
    }
    Err(Denied(match (who.role, what) {
        (Role::FocalPoint, Action::SeeReturns { member } | Action::SubmitReturn { member }) => {
            format!("this account acts for {}, not {member}", who.member.as_deref().unwrap_or("no member"))
        }
        (_, Action::ClearDrafts) => "only a co-chair comments on and clears drafts".to_string(),
        (role, _) => format!("a {} account cannot do this", role.words()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(role: Role, member: Option<&str>) -> Account {
        Account {
            username: "u".into(),
            role,
            member: member.map(str::to_string),
            disabled: false,
            password: String::new(),
            session_epoch: 1,
            version: 1,
            changed_at: String::new(),
            changed_by: String::new(),
            change: String::new(),
        }
    }

    #[test]
    fn every_role_against_every_action() {
        use Action::*;
        let aus = account(Role::FocalPoint, Some("AUS"));
        let sec = account(Role::Secretariat, None);
        let chair = account(Role::CoChair, None);
        let obs = account(Role::Observer, None);
        let actions = [
            ReadContract,
            SeeReturns { member: "AUS" },
            SeeReturns { member: "IDN" },
            SubmitReturn { member: "AUS" },
            SubmitReturn { member: "IDN" },
            SeeBoard,
            RunIntake,
            StartRun,
            SeeRuns,
            ReadDrafts,
            ReviewReturns,
            LockCycle,
            SeeLog,
            PutUpDrafts,
            ClearDrafts,
            WithdrawMember,
        ];
        //     contract ret AUS ret IDN sub AUS sub IDN board intake run  runs drafts review lock  log  put up clear withdraw
        let expected = [
            (
                &aus,
                [
                    true, true, false, true, false, false, false, false, false, false, false, false, false, false,
                    false, false,
                ],
            ),
            (&sec, [true, true, true, true, true, true, true, true, true, true, true, true, true, true, false, true]),
            (
                &chair,
                [
                    true, false, false, false, false, true, false, false, true, true, false, false, true, false, true,
                    false,
                ],
            ),
            (
                &obs,
                [
                    true, true, true, false, false, true, false, false, true, true, false, false, true, false, false,
                    false,
                ],
            ),
        ];
        for (who, row) in expected {
            for (a, ok) in actions.iter().zip(row) {
                assert_eq!(authorize(who, a).is_ok(), ok, "{:?} {a:?}", who.role);
            }
        }
        assert_eq!(
            authorize(&aus, &SubmitReturn { member: "IDN" }).unwrap_err().0,
            "this account acts for AUS, not IDN"
        );
        assert_eq!(authorize(&sec, &ClearDrafts).unwrap_err().0, "only a co-chair comments on and clears drafts");
        let mut off = sec.clone();
        off.disabled = true;
        assert!(authorize(&off, &ReadContract).is_err());
    }
}
