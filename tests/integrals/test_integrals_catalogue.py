"""The catalogue F1–F24 (Feynman's trick, kexue.fm 1619 / part 7): closed forms against mpmath
to 30 significant digits, and every derivation replayed to its closed form."""

import pytest
import sympy

from kexue.integrals import CATALOGUE, CatalogueEntry, verify

IDS = [e.id for e in CATALOGUE]
OSCILLATORY = {e.id for e in CATALOGUE if (e.numeric or e.integral).omega is not None}


def test_catalogue_has_the_twenty_four_integrals():
    assert IDS == [f"F{i}" for i in range(1, 25)]
    assert len({e.slug for e in CATALOGUE}) == 24
    assert CATALOGUE["dirichlet"] is CATALOGUE["f4"] is CATALOGUE[3]
    for e in CATALOGUE:
        assert isinstance(e, CatalogueEntry) and e.check_points and e.derivation.steps
        G = e.integral
        assert G.param in (G.integrand.free_symbols | G.upper.free_symbols)


@pytest.mark.parametrize("name", IDS)
def test_closed_form_agrees_with_mpmath_to_30_digits(name):
    entry = CATALOGUE[name]
    points = entry.check_points[:1] if name in OSCILLATORY else None  # the rest: slow test
    v = verify(entry, digits=30, points=points)
    assert v.ok, [(c.point, c.digits) for c in v.checks]
    assert v.min_digits >= 30


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(OSCILLATORY))
def test_oscillatory_entries_at_every_check_point(name):
    assert verify(name).ok


@pytest.mark.parametrize("name", IDS)
def test_derivation_rederives_the_closed_form(name):
    entry = CATALOGUE[name]
    rep = entry.replay()
    assert rep.ok, [(c.index, c.kind, c.how) for c in rep.failures()]
    ok, how = entry.rederived()
    assert ok, how
    assert len(entry.derivation.render()) >= len(entry.derivation.steps)


def test_a_wrong_closed_form_is_caught():
    """The checks can fail: a perturbed closed form misses by far more than 30 digits, and a
    perturbed recorded step does not replay."""
    import dataclasses

    e = CATALOGUE["F3"]
    wrong = dataclasses.replace(e, closed_form=e.closed_form + sympy.Rational(1, 10**20))
    v = verify(wrong, points=e.check_points[:1])
    assert not v.ok and 18 < v.min_digits < 22
    from kexue.integrals._steps_calculus import Differentiate

    bad = Differentiate(e.integral, -sympy.exp(-2 * e.integral.param * e.integral.x))
    ok, how, _ = bad.replay({})
    assert not ok and "differs" in how


def test_unknown_name_lists_valid_names():
    with pytest.raises(KeyError, match=r"unknown catalogue entry 'F99'.*F1 \(log-ratio\)"):
        verify("F99")
    with pytest.raises(TypeError, match="CatalogueEntry or a name"):
        verify(3)


def test_use_entry_looks_up_the_catalogue_that_collected_it():
    """A UseEntry step is bound to the catalogue that collects its entry (no import of the
    catalogue from the steps): F4's use of F3 resolves in CATALOGUE, also when F4 is collected
    again elsewhere; an unbound step fails its replay with a clear message, and a catalogue
    refuses an entry whose derivation uses an entry it lacks."""
    import dataclasses

    from kexue.integrals import Catalogue, Derivation, Replay
    from kexue.integrals._steps_algebra import UseEntry

    f4 = CATALOGUE["F4"]
    (use,) = [s for s in f4.derivation.steps if isinstance(s, UseEntry)]
    assert use.catalogue is CATALOGUE
    assert Catalogue([f4])["F4"].derivation.steps[0].catalogue is CATALOGUE  # not re-bound
    ok, how, value = use.replay({})
    assert ok and how == "from F3" and value == CATALOGUE["F3"].closed_form

    lonely = Derivation([UseEntry("F3", name="F3")])
    assert lonely.render() == ["1. [use] F3"]
    rep = lonely.replay()
    assert isinstance(rep, Replay) and not rep.ok
    assert "belongs to no catalogue" in rep.checks[0].how

    first, missing = UseEntry("F99"), UseEntry("F98")
    orphan = dataclasses.replace(f4, id="F99", slug="orphan",
                                 derivation=Derivation([first, missing]))
    with pytest.raises(ValueError, match="F99 uses the entry 'F98', which is not in the"):
        Catalogue([orphan])
    assert first.catalogue is None and missing.catalogue is None  # nothing bound on failure
