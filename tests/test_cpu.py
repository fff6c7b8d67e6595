"""Reading /proc/cpuinfo text: per-processor fields, flags, model name."""

from fastformers_tf.cpu import cpu_flags, cpu_name, processors

CPUINFO = """processor\t: 0
model name\t: AMD EPYC 7B13
flags\t\t: fpu avx2 fma

processor\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu avx2 fma
"""


def test_one_dict_per_processor_with_stripped_fields():
    blocks = processors(CPUINFO)
    assert [b["processor"] for b in blocks] == ["0", "1"] and blocks[1]["model name"] == "AMD EPYC 7B13"


def test_flags_and_name():
    assert cpu_flags(CPUINFO) == {"fpu", "avx2", "fma"}
    assert cpu_name(CPUINFO) == "AMD EPYC 7B13"
    assert cpu_flags("") == set() and cpu_name("")  # no cpuinfo: no flags, a name from platform
