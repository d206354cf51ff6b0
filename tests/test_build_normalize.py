"""The decompiler-core -> Ghidra-export mapping, on text the core really prints."""
import pytest

from decomptune.build.normalize import (
    GHIDRA_TYPE_NAMES, INTERNAL_TYPE_RE, NORETURN_COMMENT, BinaryNames, name_prefix, normalize)

CORE_OUTPUT = """
int8 func_10119b(int8 param_1)

{
  char cVar1;
  xunknown1 axStack_48 [40];
  int8 iStack_20;
  uint8 uStack_18;
  float8 fVar2;
  xunknown4 *pxVar3;

  uStack_18 = func_0x00101040(param_1);
  iStack_20 = func_0x00101060(uStack_18 + 1);
  if (iStack_20 == 0) goto code_r0x00101390;
  func_0x00101050(axStack_48,0x20,0x102004,uStack_18);
  fVar2 = fRam0000000000102068 + (float8)iRam0000000000104084;
  func_0x00101169(0x104040);
code_r0x00101390:
  return iStack_20;
}
"""


def names() -> BinaryNames:
    rodata = b"\x01\x00\x02\x00%zu\x00"  # _IO_stdin_used, then the format string at +4
    return BinaryNames(
        functions={0x101040: "strlen", 0x101060: "malloc", 0x101050: "snprintf", 0x101169: "fill"},
        data={0x104084: "counter", 0x104040: "table"},
        rodata_start=0x102000, rodata=rodata)


@pytest.mark.parametrize("core,exported", [
    ("int4", "int"), ("uint4", "uint"), ("int8", "long"), ("uint8", "ulong"), ("int1", "char"),
    ("uint1", "byte"), ("int2", "short"), ("uint2", "ushort"), ("xunknown4", "undefined4"),
    ("xunknown8", "undefined8"), ("xunknown1", "undefined"), ("float4", "float"), ("float8", "double")])
def test_type_table_maps_core_names_to_export_names(core, exported):
    assert GHIDRA_TYPE_NAMES[core] == exported
    assert normalize(f"{core} func_101000(void)\n{{\n  return;\n}}\n", BinaryNames(), "f").startswith(exported + " f(")


def test_variable_prefix_follows_the_exported_type():
    assert name_prefix("int8", 0, False) == "l"
    assert name_prefix("xunknown4", 1, False) == "pu"
    assert name_prefix("float8", 0, False) == "d"
    assert name_prefix("xunknown1", 0, True) == "au"


def test_core_output_becomes_export_style():
    out = normalize(CORE_OUTPUT, names(), "shout")
    assert out.startswith("long shout(long param_1)")
    assert "undefined local_48 [40];" in out and "long local_20;" in out and "ulong local_18;" in out
    assert "double dVar2;" in out and "undefined4 *puVar3;" in out
    assert "local_18 = strlen(param_1);" in out and "local_20 = malloc(local_18 + 1);" in out
    assert 'snprintf(local_48,0x20,"%zu",local_18);' in out
    assert "dVar2 = DAT_00102068 + (double)counter;" in out
    assert "fill(&table);" in out
    assert "goto LAB_00101390;" in out and "\nLAB_00101390:\n" in out
    assert not INTERNAL_TYPE_RE.search(out)
    for core in ("func_0x", "Stack_", "code_r0x", "Ram0", "xunknown", "int8", "float8"):
        assert core not in out


def test_unknown_callee_gets_a_fun_name_and_numbers_stay_numbers():
    out = normalize("void func_101000(void)\n{\n  func_0x00101234(0x104041);\n  return;\n}\n", names(), "f")
    assert "FUN_00101234(0x104041);" in out


def test_noreturn_calls_take_ghidras_comment_and_lose_the_fake_result():
    core = ("int4 func_101000(void)\n{\n  int8 iVar1;\n  \n  if (x) {\n    iVar1 = func_0x00101030();\n  }\n"
            "  func_0x00101030();\n  do {\n                    /* WARNING: Do nothing block with infinite loop */\n"
            "  } while( true );\n}\n")
    out = normalize(core, BinaryNames(functions={0x101030: "__stack_chk_fail"}), "f")
    assert f"{NORETURN_COMMENT}\n    __stack_chk_fail();\n" in out
    assert f"{NORETURN_COMMENT}\n  __stack_chk_fail();\n}}" in out
    assert "while( true )" not in out and "= __stack_chk_fail" not in out


def test_tail_call_through_plt_reads_as_a_plain_call():
    core = ("void func_101280(void)\n{\n"
            "                    /* WARNING: Could not recover jumptable at 0x00101040. Too many branches */\n"
            "                    /* WARNING: Treating indirect jump as call */\n"
            "  (*pcRam0000000000104008)(0x102004);\n  return;\n}\n")
    out = normalize(core, BinaryNames(functions={0x101040: "puts"}, got_slots={0x104008: "puts"},
                                      rodata_start=0x102000, rodata=b"\x01\x00\x02\x00%zu\x00"), "g")
    assert out == 'void g(void)\n{\n  puts("%zu");\n  return;\n}\n'
