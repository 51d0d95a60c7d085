import pytest

from pyskl.registry import Registry


def test_build_and_close_match_error():
    reg = Registry("thing")

    @reg.register()
    class UniformSample:
        def __init__(self, clip_len, num_clips=1):
            self.clip_len, self.num_clips = clip_len, num_clips

    obj = reg.build(dict(type="UniformSample", clip_len=5), num_clips=3)
    assert (obj.clip_len, obj.num_clips) == (5, 3)
    assert reg.build(dict(type=UniformSample, clip_len=2)).clip_len == 2
    with pytest.raises(KeyError, match="did you mean UniformSample"):
        reg.build(dict(type="UniformSampel", clip_len=5))
    with pytest.raises(KeyError, match="already registered"):
        reg.register("UniformSample")(UniformSample)
    with pytest.raises(TypeError, match="UniformSample"):
        reg.build(dict(type="UniformSample", bogus=1, clip_len=1))
