"""Read a linked x86-64 ELF into what the decompiler needs: one flat memory image of its
loadable segments, the defined functions, and the names Ghidra would show for addresses.

Addresses are shifted to Ghidra's default image base for position-independent executables
(0x100000), so data and label names (``DAT_001020d0``, ``LAB_00101390``) match what Ghidra's
headless exports print for the same binary.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

from decomptune.build.normalize import BinaryNames

GHIDRA_PIE_BASE = 0x100000
PLT_SECTIONS = (".plt", ".plt.sec", ".plt.got")


@dataclass
class FunctionSymbol:
    name: str
    address: int  # already shifted by the image base
    size: int


@dataclass
class LoadedElf:
    image: bytes
    base_address: int
    functions: dict[str, FunctionSymbol] = field(default_factory=dict)
    names: BinaryNames = field(default_factory=BinaryNames)


class NotAnElfError(ValueError):
    pass


def load_elf(path: str) -> LoadedElf:
    with open(path, "rb") as fh:
        if fh.read(4) != b"\x7fELF":
            raise NotAnElfError(f"{path}: not an ELF file")
        fh.seek(0)
        elf = ELFFile(fh)
        if elf["e_machine"] != "EM_X86_64":
            raise NotAnElfError(f"{path}: machine {elf['e_machine']}, expected x86-64")
        shift = GHIDRA_PIE_BASE if elf["e_type"] == "ET_DYN" else 0
        image, low = _memory_image(elf)
        loaded = LoadedElf(image=image, base_address=low + shift)
        _read_symbols(elf, shift, loaded)
        _read_plt(elf, shift, loaded.names)
        _read_rodata(elf, shift, loaded.names)
    return loaded


def _memory_image(elf: ELFFile) -> tuple[bytes, int]:
    segments = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
    low = min(s["p_vaddr"] for s in segments)
    high = max(s["p_vaddr"] + s["p_memsz"] for s in segments)
    image = bytearray(high - low)  # .bss and gaps stay zero, as in a loaded process
    for seg in segments:
        data = seg.data()
        start = seg["p_vaddr"] - low
        image[start:start + len(data)] = data
    return bytes(image), low


def _read_symbols(elf: ELFFile, shift: int, loaded: LoadedElf) -> None:
    symtab = elf.get_section_by_name(".symtab")
    if symtab is None:
        return
    for sym in symtab.iter_symbols():
        if sym["st_shndx"] == "SHN_UNDEF" or not sym.name or sym["st_value"] == 0:
            continue
        kind = sym["st_info"]["type"]
        addr = sym["st_value"] + shift
        if kind == "STT_FUNC":
            loaded.functions.setdefault(sym.name, FunctionSymbol(sym.name, addr, sym["st_size"]))
            loaded.names.functions.setdefault(addr, sym.name)
        elif kind == "STT_OBJECT":
            loaded.names.data.setdefault(addr, sym.name)


def _read_plt(elf: ELFFile, shift: int, names: BinaryNames) -> None:
    """Name PLT stubs after the import whose GOT slot they jump through.

    Each stub holds ``jmp *disp32(%rip)`` (``ff 25``, maybe after ``endbr64``/``bnd``); the
    slot it reads carries a JUMP_SLOT or GLOB_DAT relocation naming the imported function.
    Reading the jump itself works for .plt, .plt.sec and .plt.got alike.
    """
    for sec in elf.iter_sections():
        if not isinstance(sec, RelocationSection) or sec["sh_type"] != "SHT_RELA":
            continue
        symbols = elf.get_section(sec["sh_link"])
        for rel in sec.iter_relocations():
            if rel["r_info_sym"] == 0:
                continue
            name = symbols.get_symbol(rel["r_info_sym"]).name
            if name:
                names.got_slots[rel["r_offset"] + shift] = name.split("@")[0]
    for sec_name in PLT_SECTIONS:
        sec = elf.get_section_by_name(sec_name)
        if sec is None:
            continue
        data, start = sec.data(), sec["sh_addr"]
        entry = sec["sh_entsize"] or 16
        for off in range(0, len(data) - 5, entry):
            chunk = data[off:off + entry]
            pos = chunk.find(b"\xff\x25")
            if pos < 0 or pos + 6 > len(chunk):
                continue
            disp = struct.unpack_from("<i", chunk, pos + 2)[0]
            slot = start + off + pos + 6 + disp + shift
            if slot in names.got_slots:
                names.functions.setdefault(start + off + shift, names.got_slots[slot])


def _read_rodata(elf: ELFFile, shift: int, names: BinaryNames) -> None:
    sec = elf.get_section_by_name(".rodata")
    if sec is not None:
        names.rodata_start, names.rodata = sec["sh_addr"] + shift, sec.data()
