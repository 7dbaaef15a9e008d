"""THE case stage machine of DESIGN.md: which moves exist, who may make them, and when.

Pages, the JSON API, the demo seed and every other caller move a case only through
``server.docket.transition``, which asks ``check_move`` here; nothing else decides whether a
move is legal. The table is DESIGN.md's, word for word:

| stage | may go to |
|---|---|
| intake | pre_litigation_mediation*, filed, withdrawn |
| pre_litigation_mediation | mediated, filed, withdrawn |
| filed | pretrial_mediation*, fast_track, withdrawn |
| pretrial_mediation | mediated, fast_track, withdrawn |
| fast_track | mediated, adjudicated, withdrawn |
| mediated | judicial_confirmation (only after pre-litigation), closed |
| judicial_confirmation | closed |
| adjudicated | closed |
| withdrawn | closed |

\\* needs every party's recorded consent to mediate (the latest answer of each party is yes).
"""

from __future__ import annotations

from server.errors import Conflict, Forbidden, Term
from server.models.accounts import Role, User
from server.models.docket import Case, Party, Stage

S = Stage

TRANSITIONS: dict[Stage, tuple[Stage, ...]] = {
    S.INTAKE: (S.PRE_LITIGATION_MEDIATION, S.FILED, S.WITHDRAWN),
    S.PRE_LITIGATION_MEDIATION: (S.MEDIATED, S.FILED, S.WITHDRAWN),
    S.FILED: (S.PRETRIAL_MEDIATION, S.FAST_TRACK, S.WITHDRAWN),
    S.PRETRIAL_MEDIATION: (S.MEDIATED, S.FAST_TRACK, S.WITHDRAWN),
    S.FAST_TRACK: (S.MEDIATED, S.ADJUDICATED, S.WITHDRAWN),
    S.MEDIATED: (S.JUDICIAL_CONFIRMATION, S.CLOSED),
    S.JUDICIAL_CONFIRMATION: (S.CLOSED,),
    S.ADJUDICATED: (S.CLOSED,),
    S.WITHDRAWN: (S.CLOSED,),
    S.CLOSED: (),
}

# Entering these needs every party's consent (DESIGN.md: mediation only where both agree).
CONSENT_REQUIRED: frozenset[Stage] = frozenset({S.PRE_LITIGATION_MEDIATION, S.PRETRIAL_MEDIATION})

# Stages where the dispute is resolved: reaching one sets ``outcome`` and ``resolved_at``.
RESOLVED: frozenset[Stage] = frozenset({S.MEDIATED, S.ADJUDICATED, S.WITHDRAWN})
# Stages that carry a fast-track deadline (5 working days from entering fast_track).
FAST_TRACK_WORKDAYS = 5

# What ``Case.outcome`` holds. A mediated case records where the mediation succeeded, because
# the reports need "pretrial-mediated" and "pre-litigation-mediated" apart; judicial
# confirmation and closing keep the outcome the case already has.
OUTCOME_MEDIATED_PRE_LITIGATION = "mediated_pre_litigation"
OUTCOME_MEDIATED_PRETRIAL = "mediated_pretrial"
OUTCOME_MEDIATED_FAST_TRACK = "mediated_fast_track"
OUTCOME_ADJUDICATED = "adjudicated"
OUTCOME_WITHDRAWN = "withdrawn"
MEDIATED_OUTCOMES: frozenset[str] = frozenset(
    {OUTCOME_MEDIATED_PRE_LITIGATION, OUTCOME_MEDIATED_PRETRIAL, OUTCOME_MEDIATED_FAST_TRACK}
)
_MEDIATED_FROM: dict[Stage, str] = {
    S.PRE_LITIGATION_MEDIATION: OUTCOME_MEDIATED_PRE_LITIGATION,
    S.PRETRIAL_MEDIATION: OUTCOME_MEDIATED_PRETRIAL,
    S.FAST_TRACK: OUTCOME_MEDIATED_FAST_TRACK,
}

_C, _J, _M, _O = Role.CLERK, Role.JUDGE, Role.MEDIATOR, Role.OFFICE_STAFF

# Who may make each move; admin may make every move (not listed). Why each:
MOVERS: dict[tuple[Stage, Stage], frozenset[Role]] = {
    # Triage of a registered dispute: the clerk dockets it; a mediator may take a consenting
    # dispute into mediation at once (DESIGN.md: "mediation is organised at once").
    (S.INTAKE, S.PRE_LITIGATION_MEDIATION): frozenset({_C, _M}),
    # Filing (立案) is the clerk's act.
    (S.INTAKE, S.FILED): frozenset({_C}),
    # A resident may drop a dispute still at reception: the clerk records it, and so may the
    # staff of the street office that received it (the office check is in ``check_move``).
    (S.INTAKE, S.WITHDRAWN): frozenset({_C, _O}),
    # The mediator records a successful mediation; nobody else saw it succeed.
    (S.PRE_LITIGATION_MEDIATION, S.MEDIATED): frozenset({_M}),
    # Mediation failed: the clerk files the case.
    (S.PRE_LITIGATION_MEDIATION, S.FILED): frozenset({_C}),
    (S.PRE_LITIGATION_MEDIATION, S.WITHDRAWN): frozenset({_C, _M}),
    # Referring a filed case to pretrial mediation: the mediator takes it, the clerk dockets it.
    (S.FILED, S.PRETRIAL_MEDIATION): frozenset({_C, _M}),
    # Sending a case to the fast-track tribunal: the tribunal's judge, or the clerk docketing
    # the tribunal's assignment.
    (S.FILED, S.FAST_TRACK): frozenset({_C, _J}),
    (S.FILED, S.WITHDRAWN): frozenset({_C, _J}),
    (S.PRETRIAL_MEDIATION, S.MEDIATED): frozenset({_M}),
    # A failed pretrial mediation goes to the tribunal; the mediator may hand it over too.
    (S.PRETRIAL_MEDIATION, S.FAST_TRACK): frozenset({_C, _J, _M}),
    (S.PRETRIAL_MEDIATION, S.WITHDRAWN): frozenset({_C, _J, _M}),
    # In fast-track the judge mediates or decides; only the judge records either.
    (S.FAST_TRACK, S.MEDIATED): frozenset({_J}),
    (S.FAST_TRACK, S.ADJUDICATED): frozenset({_J}),
    (S.FAST_TRACK, S.WITHDRAWN): frozenset({_C, _J}),
    # Judicial confirmation (司法确认) is a judge's ruling.
    (S.MEDIATED, S.JUDICIAL_CONFIRMATION): frozenset({_J}),
    # Closing the file is the clerk's housekeeping.
    (S.MEDIATED, S.CLOSED): frozenset({_C}),
    (S.JUDICIAL_CONFIRMATION, S.CLOSED): frozenset({_C}),
    (S.ADJUDICATED, S.CLOSED): frozenset({_C}),
    (S.WITHDRAWN, S.CLOSED): frozenset({_C}),
}

# English msgids; the pages translate them through the gettext catalogues.
STAGE_LABELS: dict[str, str] = {
    S.INTAKE: "Intake",
    S.PRE_LITIGATION_MEDIATION: "Pre-litigation mediation",
    S.FILED: "Filed",
    S.PRETRIAL_MEDIATION: "Pretrial mediation",
    S.FAST_TRACK: "Fast-track",
    S.MEDIATED: "Mediated",
    S.JUDICIAL_CONFIRMATION: "Judicial confirmation",
    S.ADJUDICATED: "Adjudicated",
    S.WITHDRAWN: "Withdrawn",
    S.CLOSED: "Closed",
}


def outcome_for(from_stage: Stage, to_stage: Stage) -> str | None:
    """The ``Case.outcome`` a move into a resolving stage sets (None: keep the current one)."""
    if to_stage == S.MEDIATED:
        return _MEDIATED_FROM[from_stage]
    if to_stage == S.ADJUDICATED:
        return OUTCOME_ADJUDICATED
    if to_stage == S.WITHDRAWN:
        return OUTCOME_WITHDRAWN
    return None


def legal_moves(case: Case) -> list[Stage]:
    """The table's next stages for this case, whoever asks."""
    current = Stage(case.stage)
    return [
        to
        for to in TRANSITIONS[current]
        # Only an agreement from pre-litigation mediation can be judicially confirmed;
        # a mediated filed case ends as a court mediation (民事调解书) instead.
        if not (to == S.JUDICIAL_CONFIRMATION and not case.was_pre_litigation)
    ]


def may_make(user: User, case: Case, to_stage: Stage) -> bool:
    """Whether the user's role allows this move on this case (not whether it is legal now)."""
    if user.role == Role.ADMIN:
        return True
    roles = MOVERS.get((Stage(case.stage), to_stage), frozenset())
    if user.role not in roles:
        return False
    # Office staff act only for their own office's residents.
    return not (user.role == Role.OFFICE_STAFF and user.office_id != case.office_id)


def allowed_moves(user: User, case: Case) -> list[Stage]:
    """The legal next stages this user may make now (consent is checked on the move)."""
    return [to for to in legal_moves(case) if may_make(user, case, to)]


def consent_complete(parties: list[Party], consents: dict[int, bool]) -> bool:
    """Every party has said yes (latest answer), and both sides have at least one party:
    mediation with nobody on the other side is not mediation."""
    sides = {p.side for p in parties}
    if not {"applicant", "respondent"} <= sides:
        return False
    return all(consents.get(p.id) is True for p in parties)


def stage_term(stage: str) -> Term:
    """A stage as a refusal names it: its label, worded in the reader's language."""
    return Term(STAGE_LABELS.get(stage, stage))


def check_move(user: User, case: Case, to_stage: Stage, consents: dict[int, bool]) -> None:
    """Raise unless ``user`` may move ``case`` to ``to_stage`` now.

    - not in the table (or judicial confirmation without pre-litigation mediation):
      ``Conflict`` code ``illegal_transition``, the message naming the allowed stages and
      ``details={"allowed": [...], "allowed_for_you": [...]}``;
    - the user's role may not make this move: ``Forbidden`` code ``move_forbidden``;
    - a mediation stage without every party's consent: ``Conflict`` code ``consent_required``
      with ``details={"missing": [party ids]}``.
    """
    legal = legal_moves(case)
    if to_stage not in legal:
        raise Conflict(
            "a case in stage {stage} cannot move to {to}; allowed: {allowed}"
            if legal
            else "a case in stage {stage} cannot move to {to}: the case is closed",
            code="illegal_transition",
            values={
                "stage": stage_term(case.stage),
                "to": stage_term(to_stage),
                "allowed": [stage_term(s) for s in legal],
            },
            details={
                "from": case.stage,
                "to": str(to_stage),
                "allowed": [str(s) for s in legal],
                "allowed_for_you": [str(s) for s in allowed_moves(user, case)],
            },
        )
    if not may_make(user, case, to_stage):
        raise Forbidden(
            "your role may not move a case from {stage} to {to}",
            code="move_forbidden",
            values={"stage": stage_term(case.stage), "to": stage_term(to_stage)},
        )
    if to_stage in CONSENT_REQUIRED and not consent_complete(list(case.parties), consents):
        missing = [p.id for p in case.parties if consents.get(p.id) is not True]
        raise Conflict(
            "{to} needs the recorded consent of every party, applicants and respondents",
            code="consent_required",
            values={"to": stage_term(to_stage)},
            details={"missing": missing},
        )
