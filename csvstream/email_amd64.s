//go:build amd64 && !purego

#include "textflag.h"

// CLASSIFY sets R11, R12 and R13 to the masks of the '@', '.' and space,
// control or DEL bytes among the sixteen in X4, and adds their high bits to
// X7. It uses X5 and X6.
#define CLASSIFY \
	POR      X4, X7   \
	MOVOU    X4, X5   \
	PCMPEQB  X0, X5   \
	PMOVMSKB X5, R11  \
	MOVOU    X4, X5   \
	PCMPEQB  X1, X5   \
	PMOVMSKB X5, R12  \
	MOVOU    X4, X5   \
	PMINUB   X2, X5   \
	PCMPEQB  X4, X5   \
	MOVOU    X4, X6   \
	PCMPEQB  X3, X6   \
	POR      X6, X5   \
	PMOVMSKB X5, R13

// func emailMasks(b []byte) (at, dot, bad uint64, ascii bool)
//
// 16 <= len(b) <= 64.
TEXT ·emailMasks(SB), NOSPLIT, $0-49
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), BX

	// X0 holds '@' in each byte, X1 '.', X2 0x20 (the space, above every
	// control character), X3 DEL.
	MOVQ       $0x4040404040404040, AX
	MOVQ       AX, X0
	PUNPCKLQDQ X0, X0
	MOVQ       $0x2e2e2e2e2e2e2e2e, AX
	MOVQ       AX, X1
	PUNPCKLQDQ X1, X1
	MOVQ       $0x2020202020202020, AX
	MOVQ       AX, X2
	PUNPCKLQDQ X2, X2
	MOVQ       $0x7f7f7f7f7f7f7f7f, AX
	MOVQ       AX, X3
	PUNPCKLQDQ X3, X3

	PXOR X7, X7  // the bytes seen, ORed: a high bit set means not ASCII
	XORQ R8, R8  // '@' mask
	XORQ R9, R9  // '.' mask
	XORQ R10, R10 // space, control and DEL mask
	XORQ DX, DX  // offset of the next sixteen bytes

loop:
	LEAQ  16(DX), AX // the offset after these sixteen bytes
	CMPQ  AX, BX
	JA    tail
	MOVOU (SI)(DX*1), X4
	CLASSIFY
	JMP   merge

tail:
	CMPQ DX, BX
	JAE  done

	// Fewer than sixteen bytes are left: classify the last sixteen and
	// drop the bits of the bytes before DX.
	LEAQ  -16(BX), AX
	MOVOU (SI)(AX*1), X4
	CLASSIFY
	MOVQ  DX, CX
	SUBQ  AX, CX
	SHRQ  CX, R11
	SHRQ  CX, R12
	SHRQ  CX, R13
	MOVQ  BX, AX

merge:
	// Move the masks to bit DX and add them.
	MOVQ DX, CX
	SHLQ CX, R11
	SHLQ CX, R12
	SHLQ CX, R13
	ORQ  R11, R8
	ORQ  R12, R9
	ORQ  R13, R10
	MOVQ AX, DX
	JMP  loop

done:
	MOVQ R8, at+24(FP)
	MOVQ R9, dot+32(FP)
	MOVQ R10, bad+40(FP)
	PMOVMSKB X7, AX
	TESTQ AX, AX
	SETEQ ascii+48(FP)
	RET
