"""``gymnasium.make("mintlab/CTGraph-v0")`` after ``import mintlab``, in fresh interpreters."""

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("gymnasium")


def _fresh(code: str) -> str:
    res = subprocess.run([sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_make_after_import_mintlab_passes_check_env():
    out = _fresh("""
        import sys
        import mintlab
        assert "gymnasium" not in sys.modules, "import mintlab imported gymnasium"
        assert "torch" not in sys.modules, "import mintlab imported torch"
        import gymnasium as gym
        from gymnasium.utils.env_checker import check_env
        assert "mintlab/CTGraph-v0" in gym.registry
        assert "torch" not in sys.modules, "registration imported torch"
        env = gym.make("mintlab/CTGraph-v0")
        check_env(env.unwrapped, skip_render_check=True)
        obs, info = env.reset(seed=0)
        assert env.observation_space.contains(obs)
        print(type(env.unwrapped).__name__)
    """)
    assert out.split() == ["CTGraphEnv"]


def test_gymnasium_imported_first_then_mintlab():
    out = _fresh("""
        import gymnasium as gym
        assert "mintlab/CTGraph-v0" not in gym.registry
        import mintlab
        env = gym.make("mintlab/CTGraph-v0")
        print(env.spec.id)
    """)
    assert out.split() == ["mintlab/CTGraph-v0"]


def test_registration_is_idempotent_and_shared_with_the_envs_package():
    out = _fresh("""
        import sys
        import mintlab
        import gymnasium as gym
        import mintlab.continual.envs as envs
        import mintlab as again
        mintlab._register_gym_envs(gym)
        hooks = [f for f in sys.meta_path if type(f).__name__ == "_RegisterOnGymnasiumImport"]
        assert not hooks, "the import hook stays installed after gymnasium was imported"
        cfg = envs.CTGraphConfig(branching=2, depth=2)
        env = gym.make(envs.ENV_ID, config=cfg, task=1)
        print(env.unwrapped.task == envs.CTGraphEnv(cfg, task=1).task)
    """)
    assert out.split() == ["True"]


def test_find_spec_before_the_import_does_not_lose_the_registration():
    out = _fresh("""
        import importlib.util
        import mintlab
        assert importlib.util.find_spec("gymnasium") is not None  # an availability check
        import gymnasium as gym
        print(gym.make("mintlab/CTGraph-v0").spec.id)
    """)
    assert out.split() == ["mintlab/CTGraph-v0"]
