#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Regenerate decode_cases.h: instruction bytes and lengths for the decoder
# unit test, taken from the GNU assembler (the encoder is the oracle: each
# instruction is assembled into its own section, so its length is the
# section's size).  Run from this directory: ./gen_decode_cases.py
import os
import re
import subprocess
import sys
import tempfile

# [(mode, [asm, ...])]
CASES = {
    64: r"""
nop
ret
ret $8
int3
int $0x80
hlt
cpuid
rdtsc
syscall
sysret
swapgs
vmmcall
vmrun
lfence
mfence
pause
mov %eax, %ebx
mov %rax, %rbx
mov %r8, %r15
mov %ax, %bx
mov %al, %bl
mov %ah, %bh
mov %sil, %dil
mov %r8b, %r9b
mov $0x12, %al
mov $0x1234, %ax
mov $0x12345678, %eax
mov $0x123456789abcdef0, %rax
mov $0x12345678, %r12d
mov $-1, %rax
mov (%rax), %eax
mov (%rax), %rax
mov (%r8), %eax
mov (%rsp), %eax
mov (%r12), %eax
mov (%rbp), %eax
mov (%r13), %eax
mov 8(%rax), %eax
mov 0x1000(%rax), %eax
mov -8(%rbp), %rax
mov 8(%rsp), %rcx
mov 0x1000(%rsp), %rcx
mov (%rax,%rbx), %ecx
mov (%rax,%rbx,2), %ecx
mov (%rax,%rbx,4), %ecx
mov (%rax,%rbx,8), %ecx
mov 0x10(%rax,%rbx,8), %ecx
mov 0x12345678(%rax,%rbx,8), %ecx
mov (%r8,%r9,4), %r10
mov (%rbp,%r12,2), %r10
mov (%r13,%r14), %r10
mov 0x1000(,%rbx,4), %eax
mov 0x1000, %eax
mov 0x1000(%rip), %eax
mov -4(%rip), %rax
mov %eax, (%rax)
mov %rax, 0x10(%rbx,%rcx,2)
movb $1, (%rax)
movw $0x1234, (%rax)
movl $0x12345678, (%rax)
movq $0x12345678, (%rax)
movq $-1, 0x100(%rip)
movl $1, 0x10(%rsp)
movabs 0x1122334455667788, %al
movabs 0x1122334455667788, %eax
movabs 0x1122334455667788, %rax
movabs %rax, 0x1122334455667788
movabs %ax, 0x1122334455667788
mov %fs:(%rax), %eax
mov %gs:0x28, %rax
mov %es, (%rax)
mov %ds, %eax
mov (%rax), %ds
addr32 mov (%eax), %ebx
mov (%eax,%ebx,4), %ecx
mov 0x10(%eip), %eax
movzbl (%rax), %eax
movzwl (%rax), %eax
movzbq (%rax), %rax
movzwq (%rax), %rax
movsbl (%rax), %eax
movswl (%rax), %eax
movsbw (%rax), %ax
movsbq (%rax), %rax
movswq (%rax), %rax
movslq (%rax), %rax
movslq %eax, %rax
add %eax, (%rbx)
add (%rbx), %eax
add $1, %eax
add $0x1000, %eax
add $1, %al
add $0x1000, %ax
add $1, (%rax)
addl $0x1000, (%rax)
addb $1, (%rax)
addw $1, (%rax)
addw $0x1000, (%rax)
addq $0x1000, 8(%rax)
or %al, (%rbx)
adc %rax, (%rbx)
sbb 4(%rbx), %ecx
and $0xf0, %al
sub $0x12345678, %rax
xor %r8d, %r8d
cmp %rax, (%rbx,%rcx,8)
cmpb $0, 0x10(%rip)
test %eax, (%rbx)
testb $1, (%rbx)
testw $1, (%rbx)
testl $1, (%rbx)
testq $1, (%rbx)
test $1, %al
test $0x100, %eax
xchg %eax, (%rbx)
xchg %al, (%rbx)
xchg %rax, %rbx
lock xadd %eax, (%rbx)
lock cmpxchg %ecx, (%rbx)
lock cmpxchg8b (%rbx)
lock cmpxchg16b (%rbx)
lock incl (%rax)
lock decq 8(%rax)
lock btsl $3, (%rax)
lock btr %eax, (%rbx)
lock orl $1, (%rax)
notl (%rax)
negq (%rax)
mulb (%rax)
imulw (%rax)
divl (%rax)
idivq (%rax)
imul (%rax), %eax
imul $10, (%rax), %eax
imul $1000, (%rax), %eax
imul $1000, (%rax), %ax
incb (%rax)
incw (%rax)
decl (%rax)
incq (%rax)
shl (%rax)
shlb $3, (%rax)
shlw %cl, (%rax)
sarq $63, (%rax)
rolq (%rax)
rcr $2, %eax
shld $4, %eax, (%rbx)
shrd %cl, %rax, (%rbx)
bt %eax, (%rbx)
bts $5, (%rbx)
btr %rax, (%rbx)
btcw $15, (%rbx)
bsf (%rax), %eax
bsr (%rax), %rax
tzcnt (%rax), %eax
lzcnt (%rax), %eax
popcnt (%rax), %eax
movbe (%rax), %eax
movbe %rax, (%rbx)
movbe (%rax), %ax
movnti %eax, (%rbx)
movnti %rax, (%rbx)
cmovz (%rax), %eax
cmovnb (%rax), %rax
cmovle (%rax), %ax
sete (%rax)
setne %al
setg %r8b
push (%rax)
pushq 8(%rsp)
pushw (%rax)
pop (%rax)
popq 8(%rsp)
popw (%rax)
push %rax
push %r12
pop %r15
push $1
push $0x1000
pushf
popf
call *(%rax)
call *%rax
jmp *(%rax,%rbx,8)
jmp *0x10(%rip)
jmp .
jmp .+0x1000
je .
jne .+0x1000
call .+0x1000
loop .
jrcxz .
lcall *(%rax)
ljmp *(%rax)
enter $16, $0
leave
lea (%rax,%rbx,2), %rcx
lea 0x10(%rip), %rax
movsb
movsw
movsl
movsq
rep movsb
rep movsq
rep stosl
rep stosq
lodsb
lodsq
scasb
repne scasb
repe cmpsb
repe cmpsq
addr32 rep movsb
addr32 movsl
fs movsb
insb
outsl
rep insw
in $0x60, %al
out %al, $0x80
in (%dx), %eax
out %eax, (%dx)
cli
sti
clc
cld
std
cmc
lahf
sahf
cbw
cwde
cdqe
cwd
cdq
cqo
xlat
bswap %eax
bswap %r9
rdmsr
wrmsr
invlpg (%rax)
lgdt (%rax)
lidt (%rax)
sgdt (%rax)
ltr %ax
lldt %ax
mov %cr0, %rax
mov %rax, %cr3
mov %cr8, %rax
mov %dr7, %rax
clts
wbinvd
xgetbv
fxsave (%rax)
fxrstor64 (%rax)
xsave (%rax)
stmxcsr (%rax)
ldmxcsr 4(%rax)
prefetcht0 (%rax)
prefetchw (%rax)
clflush (%rax)
nopw 0x0(%rax,%rax,1)
nopl 0x0(%rax)
ud2
endbr64
fld (%rax)
fldl 8(%rax)
fstps (%rax)
fadd %st(1), %st
fnstsw %ax
fninit
movd %eax, %xmm0
movq %rax, %xmm1
movq %xmm0, (%rax)
movd (%rax), %mm0
movq %mm0, %mm1
movups (%rax), %xmm0
movaps %xmm1, (%rbx)
movdqa (%rax), %xmm8
movdqu %xmm15, 0x10(%rax)
movss (%rax), %xmm0
movsd %xmm0, (%rax)
pxor %xmm1, %xmm2
paddd (%rax), %xmm3
pshufd $0x1b, %xmm0, %xmm1
pshufb (%rax), %xmm0
palignr $4, %xmm1, %xmm0
pinsrd $1, %eax, %xmm0
pextrq $1, %xmm0, %rax
pcmpistri $0, (%rax), %xmm1
roundss $1, %xmm0, %xmm1
crc32b (%rax), %eax
crc32q (%rax), %rax
cvtsi2sd %rax, %xmm0
sqrtpd (%rax), %xmm1
cmpps $1, %xmm0, %xmm1
shufps $0x44, (%rax), %xmm1
vmovups (%rax), %ymm0
vmovdqa %ymm1, (%rax)
vpxor %xmm0, %xmm1, %xmm2
vpaddd (%rax), %ymm1, %ymm2
vmovdqu 0x20(%rax,%rbx,4), %ymm12
vpermq $0x4e, %ymm0, %ymm1
vpblendd $0x0f, (%rax), %ymm1, %ymm2
vzeroupper
vbroadcastss (%rax), %ymm0
vfmadd231ps %ymm0, %ymm1, %ymm2
vpshufb %ymm0, %ymm1, %ymm8
vinsertf128 $1, (%rax), %ymm0, %ymm1
andn %eax, %ebx, %ecx
andn (%rax), %rbx, %rcx
bextr %eax, (%rbx), %ecx
rorx $3, (%rax), %eax
shlx %rax, (%rbx), %rcx
vmovdqu32 (%rax), %zmm0
vmovdqu64 %zmm1, 0x40(%rax)
vpaddd %zmm0, %zmm1, %zmm2{%k1}
vpaddd (%rax){1to16}, %zmm1, %zmm2
vpternlogd $0xff, %zmm0, %zmm1, %zmm2
vaddps 0x100(%rax), %zmm1, %zmm2
kmovw %k1, %eax
adcx (%rax), %eax
adox %rbx, %rax
rdrand %eax
rdseed %rax
rdpid %rax
xbegin .
xabort $1
xend
sfence
monitor
mwait
""",
    32: r"""
nop
ret
mov %eax, %ebx
mov %ax, %bx
mov $0x12345678, %eax
mov $0x1234, %ax
mov (%eax), %eax
mov (%esp), %eax
mov (%ebp), %eax
mov 8(%ebp), %eax
mov 0x1000(%esi), %eax
mov (%eax,%ebx,4), %ecx
mov 0x10(%eax,%ebx,8), %ecx
mov 0x1000(,%ebx,4), %eax
mov 0x1000, %eax
mov 0x1000, %al
mov %al, 0x1000
mov %eax, (%ebx)
movb $1, (%eax)
movw $0x1234, (%eax)
movl $0x12345678, 4(%eax)
addr16 mov (%bx,%si), %eax
addr16 mov 0x10(%bp,%di), %ax
addr16 mov 0x1234, %eax
mov %es:(%eax), %eax
mov %ss:(%eax), %eax
mov %cs:(%eax), %eax
mov %fs:0x10, %eax
mov %ds, (%eax)
mov (%eax), %es
movzbl (%eax), %eax
movswl (%eax), %eax
add %eax, (%ebx)
addl $1, (%eax)
addw $0x1000, (%eax)
addb $1, (%eax)
cmp $0x12345678, %eax
sub (%eax), %ax
xor %al, (%ebx,%ecx,2)
test %eax, (%ebx)
testl $1, (%ebx)
testb $1, (%ebx)
lock xadd %eax, (%ebx)
lock cmpxchg8b (%ebx)
xchg %eax, (%ebx)
notl (%eax)
negw (%eax)
mull (%eax)
idivb (%eax)
imul $1000, (%eax), %eax
incl (%eax)
inc %eax
dec %ecx
shll $3, (%eax)
shrw %cl, (%eax)
bts %eax, (%ebx)
btl $3, (%ebx)
bsf (%eax), %eax
cmovz (%eax), %eax
setc (%eax)
push (%eax)
pushw (%eax)
pop (%eax)
push %eax
pusha
popa
push %es
pop %ds
push $1
push $0x1000
call *(%eax)
jmp *(%eax)
lcall $0x10, $0x12345678
ljmp $0x10, $0x12345678
lcall *(%eax)
jmp .
jmp .+0x1000
je .+0x1000
call .+0x1000
movsb
rep movsl
addr16 rep movsb
repne scasb
stosw
lodsl
cmpsb
daa
das
aaa
aas
aam
aad
into
bound %eax, (%ebx)
arpl %ax, (%ebx)
les (%eax), %eax
lds (%eax), %eax
.byte 0xd6
int $0x21
iret
lgdt (%eax)
mov %cr0, %eax
mov %eax, %cr0
fld (%eax)
movups (%eax), %xmm0
vmovups (%eax), %ymm0
vpxor %xmm0, %xmm1, %xmm2
vmovdqu32 (%eax), %zmm0
vpaddd %zmm0, %zmm1, %zmm2
in $0x60, %al
out %ax, (%dx)
enter $8, $1
data16 ret
""",
    16: r"""
nop
ret
mov %ax, %bx
mov %eax, %ebx
mov $0x1234, %ax
mov $0x12345678, %eax
mov (%bx,%si), %ax
mov (%bx,%di), %ax
mov (%bp,%si), %ax
mov (%bp,%di), %ax
mov (%si), %ax
mov (%di), %ax
mov 0x1234, %ax
mov (%bx), %ax
mov 0x10(%bx,%si), %ax
mov -2(%bp), %ax
mov 0x1234(%bp), %ax
mov 0x1234(%bx,%di), %eax
mov (%bp), %al
mov %al, (%bx)
movb $1, (%bx)
movw $0x1234, (%bx)
movl $0x12345678, (%bx)
mov 0x1234, %al
mov %ax, 0x1234
mov %eax, 0x1234
addr32 mov (%eax), %ax
addr32 mov (%eax,%ebx,4), %ax
addr32 mov 0x12345678, %ax
addr32 mov %al, 0x12345678
mov %es:(%bx), %ax
mov %ss:(%si), %ax
mov %cs:0x10(%bx), %ax
mov %fs:(%di), %eax
mov %ds, (%bx)
mov (%bx), %es
add %ax, (%bx)
addw $1, (%bx)
addw $0x1000, (%bx)
addl $0x1000, (%bx)
addb $1, (%bx,%si)
cmp $0x1234, %ax
cmp $0x12345678, %eax
xor %al, 8(%bp,%di)
test %ax, (%bx)
testw $1, (%bx)
testl $1, (%bx)
lock xadd %ax, (%bx)
lock cmpxchg8b (%bx)
xchg %ax, (%bx)
notw (%bx)
negl (%bx)
mulb (%bx)
divw (%bx)
imul $1000, (%bx), %ax
imul $1000, (%bx), %eax
incw (%bx)
inc %ax
shlw $3, (%bx)
sarl %cl, (%bx)
bts %ax, (%bx)
btl $3, (%bx)
movzbw (%bx), %ax
movzbl (%bx), %eax
movsbl (%bx), %eax
cmovz (%bx), %ax
setc (%bx)
push (%bx)
pushl (%bx)
pop (%bx)
push %ax
pushl $1
push $0x1000
call *(%bx)
jmp *(%bx)
lcall $0x1000, $0x1234
ljmp $0xf000, $0xfff0
lcall *(%bx)
jmp .
jmp .+0x1000
je .+0x100
call .+0x100
movsb
rep movsw
rep movsl
addr32 rep movsb
repne scasb
stosw
lodsb
cmpsw
les (%bx), %ax
lds (%si), %si
bound %ax, (%bx)
daa
aam
int $0x10
iret
lgdt (%bx)
lidt 0x10(%bx)
mov %cr0, %eax
mov %eax, %cr0
in $0x60, %al
out %al, $0x80
in (%dx), %ax
enter $8, $0
""",
}


def assemble(mode, lines):
    src = [".code%d" % mode]
    for i, l in enumerate(lines):
        src.append(".section .t%d,\"ax\",@progbits" % i)
        src.append(l)
    with tempfile.TemporaryDirectory() as d:
        s = os.path.join(d, "a.s")
        o = os.path.join(d, "a.o")
        with open(s, "w") as f:
            f.write("\n".join(src) + "\n")
        subprocess.run(["as", "--64", "-o", o, s], check=True,
                       stderr=subprocess.DEVNULL)
        out = subprocess.run(["objdump", "-s", o], check=True,
                             capture_output=True, text=True).stdout
    res = {}
    cur = None
    for line in out.splitlines():
        m = re.match(r"Contents of section \.t(\d+):", line)
        if m:
            cur = int(m.group(1))
            res[cur] = b""
            continue
        m = re.match(r" [0-9a-f]{4,} ((?:[0-9a-f]{2,8} ){1,4})", line)
        if m and cur is not None:
            res[cur] += bytes.fromhex(m.group(1).replace(" ", ""))
    return [res.get(i, b"") for i in range(len(lines))]


def main():
    out = ["/* SPDX-License-Identifier: GPL-2.0 */",
           "/* Generated by gen_decode_cases.py from GNU as: do not edit. */",
           "static const struct asm_case asm_cases[] = {"]
    for mode, text in CASES.items():
        lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
        for l, b in zip(lines, assemble(mode, lines)):
            if not b or len(b) > 15:
                sys.exit("%d: %r: no bytes" % (mode, l))
            # relative jumps to "." are 2 or 5 bytes; relocation-free
            hexs = ", ".join("0x%02x" % x for x in b)
            out.append("\t{ %d, %d, { %s }, \"%s\" }," %
                       (mode, len(b), hexs, l.replace("\\", "\\\\")))
    out.append("};")
    with open("decode_cases.h", "w") as f:
        f.write("\n".join(out) + "\n")
    print("decode_cases.h: %d cases" % (len(out) - 4))


if __name__ == "__main__":
    main()
