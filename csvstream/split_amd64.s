//go:build amd64 && !purego

#include "textflag.h"

// func splitLineSSE2(data []byte, comma byte, fields []span) (nf, stop int, ascii bool)
//
// len(data) >= 32, and fields has room for a span per byte of data.
TEXT ·splitLineSSE2(SB), NOSPLIT, $0-73
	MOVQ    data_base+0(FP), SI
	MOVQ    data_len+8(FP), BX
	MOVBQZX comma+24(FP), AX
	MOVQ    fields_base+32(FP), DI

	// X0 holds the delimiter in each byte, X1 '\n', X2 '"'.
	MOVQ       $0x0101010101010101, DX
	IMULQ      DX, AX
	MOVQ       AX, X0
	PUNPCKLQDQ X0, X0
	MOVQ       $0x0a0a0a0a0a0a0a0a, AX
	MOVQ       AX, X1
	PUNPCKLQDQ X1, X1
	MOVQ       $0x2222222222222222, AX
	MOVQ       AX, X2
	PUNPCKLQDQ X2, X2

	XORQ R8, R8       // j: offset of the block's first new byte
	XORQ R9, R9       // nf
	XORQ R10, R10     // start of the current field
	XORL R11, R11     // high bits of the bytes before the stop
	MOVQ $-1, R14     // the stop, once found
	LEAQ -32(BX), R15 // the last offset a whole block loads from

loop:
	XORL CX, CX // bits of the block's masks that are old bytes
	MOVQ R8, AX // where the block loads from
	CMPQ R8, R15
	JLE  load
	CMPQ R8, BX
	JAE  none

	// Fewer than 32 bytes are left: load the last 32 of data and drop
	// the bits of the bytes before j.
	MOVQ R15, AX
	MOVQ R8, CX
	SUBQ R15, CX

load:
	MOVOU    (SI)(AX*1), X3
	MOVOU    16(SI)(AX*1), X6
	PMOVMSKB X3, R12 // high bits
	PMOVMSKB X6, AX
	SHLL     $16, AX
	ORL      AX, R12
	MOVOU    X3, X4
	MOVOU    X6, X7
	PCMPEQB  X0, X4
	PCMPEQB  X0, X7
	PMOVMSKB X4, R13 // delimiters
	PMOVMSKB X7, AX
	SHLL     $16, AX
	ORL      AX, R13
	MOVOU    X3, X4
	MOVOU    X6, X7
	PCMPEQB  X1, X3
	PCMPEQB  X1, X6
	PCMPEQB  X2, X4
	PCMPEQB  X2, X7
	POR      X4, X3
	POR      X7, X6
	PMOVMSKB X3, DX // '\n' or '"'
	PMOVMSKB X6, AX
	SHLL     $16, AX
	ORL      AX, DX
	SHRL     CX, R12
	SHRL     CX, R13
	SHRL     CX, DX
	TESTL    DX, DX
	JZ       fields

	// The line stops in this block: keep the bits before the stop.
	BSFL  DX, CX
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	ANDL  AX, R12
	ANDL  AX, R13
	LEAQ  (R8)(CX*1), R14
	XORL  CX, CX

fields:
	ORL R12, R11

delims:
	TESTL R13, R13
	JZ    next
	BSFL  R13, AX
	ADDQ  R8, AX
	MOVL  R10, (DI)(R9*8)
	MOVL  AX, 4(DI)(R9*8)
	LEAQ  1(AX), R10
	INCQ  R9
	LEAL  -1(R13), AX
	ANDL  AX, R13
	JMP   delims

next:
	TESTQ R14, R14
	JNS   done
	ADDQ  $32, R8
	SUBQ  CX, R8
	JMP   loop

none:
	MOVQ BX, R14

done:
	MOVQ  R9, nf+56(FP)
	MOVQ  R14, stop+64(FP)
	TESTL R11, R11
	SETEQ ascii+72(FP)
	RET
