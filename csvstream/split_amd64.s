//go:build amd64 && !purego

#include "textflag.h"

// Both kernels share one loop, written out by SPLIT: it looks at the line
// BLOCK bytes at a time, and MASKS loads the block at offset AX of data
// into the bit masks R12 (bytes with the high bit set), R13 (delimiters)
// and DX ('\n' or '"'), one bit per byte.
//
// Registers: SI data, BX len(data), DI fields, R8 offset of the block's
// first new byte, R9 nf, R10 start of the current field, R11 high bits of
// the bytes before the stop, R14 the stop once found (else -1), R15 the
// last offset a whole block loads from; AX, CX and DX are scratch.
//
// Fewer than BLOCK bytes after R8 make a partial block: it loads the last
// BLOCK bytes of data and drops, with CX, the bits of the bytes before R8.
// In the block where the line stops, only the bits before the stop are
// kept. Then each delimiter ends a field.
#define SPLIT(BLOCK, MASKS) \
	XORQ R8, R8; \
	XORQ R9, R9; \
	XORQ R10, R10; \
	XORQ R11, R11; \
	MOVQ $-1, R14; \
	LEAQ -BLOCK(BX), R15; \
loop: \
	XORL CX, CX; \
	MOVQ R8, AX; \
	CMPQ R8, R15; \
	JLE  load; \
	CMPQ R8, BX; \
	JAE  none; \
	MOVQ R15, AX; \
	MOVQ R8, CX; \
	SUBQ R15, CX; \
load: \
	MASKS; \
	SHRQ  CX, R12; \
	SHRQ  CX, R13; \
	SHRQ  CX, DX; \
	TESTQ DX, DX; \
	JZ    fields; \
	BSFQ  DX, CX; \
	MOVQ  $1, AX; \
	SHLQ  CX, AX; \
	DECQ  AX; \
	ANDQ  AX, R12; \
	ANDQ  AX, R13; \
	LEAQ  (R8)(CX*1), R14; \
	XORL  CX, CX; \
fields: \
	ORQ R12, R11; \
delims: \
	TESTQ R13, R13; \
	JZ    next; \
	BSFQ  R13, AX; \
	ADDQ  R8, AX; \
	MOVL  R10, (DI)(R9*8); \
	MOVL  AX, 4(DI)(R9*8); \
	LEAQ  1(AX), R10; \
	INCQ  R9; \
	LEAQ  -1(R13), AX; \
	ANDQ  AX, R13; \
	JMP   delims; \
next: \
	TESTQ R14, R14; \
	JNS   done; \
	ADDQ  $BLOCK, R8; \
	SUBQ  CX, R8; \
	JMP   loop; \
none: \
	MOVQ BX, R14; \
done:

#define SPLIT_ARGS \
	MOVQ    data_base+0(FP), SI; \
	MOVQ    data_len+8(FP), BX; \
	MOVBQZX comma+24(FP), AX; \
	MOVQ    fields_base+32(FP), DI

#define SPLIT_RESULTS \
	MOVQ  R9, nf+56(FP); \
	MOVQ  R14, stop+64(FP); \
	TESTQ R11, R11; \
	SETEQ ascii+72(FP); \
	RET

// SSE2_MASKS reads 32 bytes with X0 holding the delimiter in each byte,
// X1 '\n' and X2 '"'.
#define SSE2_MASKS \
	MOVOU    (SI)(AX*1), X3; \
	MOVOU    16(SI)(AX*1), X6; \
	PMOVMSKB X3, R12; \
	PMOVMSKB X6, AX; \
	SHLL     $16, AX; \
	ORL      AX, R12; \
	MOVOU    X3, X4; \
	MOVOU    X6, X7; \
	PCMPEQB  X0, X4; \
	PCMPEQB  X0, X7; \
	PMOVMSKB X4, R13; \
	PMOVMSKB X7, AX; \
	SHLL     $16, AX; \
	ORL      AX, R13; \
	MOVOU    X3, X4; \
	MOVOU    X6, X7; \
	PCMPEQB  X1, X3; \
	PCMPEQB  X1, X6; \
	PCMPEQB  X2, X4; \
	PCMPEQB  X2, X7; \
	POR      X4, X3; \
	POR      X7, X6; \
	PMOVMSKB X3, DX; \
	PMOVMSKB X6, AX; \
	SHLL     $16, AX; \
	ORL      AX, DX

// AVX2_MASKS reads 64 bytes with Y0 holding the delimiter in each byte,
// Y1 '\n' and Y2 '"'.
#define AVX2_MASKS \
	VMOVDQU   (SI)(AX*1), Y3; \
	VMOVDQU   32(SI)(AX*1), Y4; \
	VPMOVMSKB Y3, R12; \
	VPMOVMSKB Y4, DX; \
	SHLQ      $32, DX; \
	ORQ       DX, R12; \
	VPCMPEQB  Y0, Y3, Y5; \
	VPCMPEQB  Y0, Y4, Y6; \
	VPMOVMSKB Y5, R13; \
	VPMOVMSKB Y6, DX; \
	SHLQ      $32, DX; \
	ORQ       DX, R13; \
	VPCMPEQB  Y1, Y3, Y5; \
	VPCMPEQB  Y2, Y3, Y7; \
	VPOR      Y7, Y5, Y5; \
	VPCMPEQB  Y1, Y4, Y6; \
	VPCMPEQB  Y2, Y4, Y8; \
	VPOR      Y8, Y6, Y6; \
	VPMOVMSKB Y5, DX; \
	VPMOVMSKB Y6, AX; \
	SHLQ      $32, AX; \
	ORQ       AX, DX

// func splitLineSSE2(data []byte, comma byte, fields []span) (nf, stop int, ascii bool)
//
// len(data) >= 32, and fields has room for a span per byte of data.
TEXT ·splitLineSSE2(SB), NOSPLIT, $0-73
	SPLIT_ARGS
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
	SPLIT(32, SSE2_MASKS)
	SPLIT_RESULTS

// func splitLineAVX2(data []byte, comma byte, fields []span) (nf, stop int, ascii bool)
//
// len(data) >= 64, and fields has room for a span per byte of data.
TEXT ·splitLineAVX2(SB), NOSPLIT, $0-73
	SPLIT_ARGS
	MOVQ         AX, X0
	VPBROADCASTB X0, Y0
	MOVL         $0x0a, AX
	MOVQ         AX, X1
	VPBROADCASTB X1, Y1
	MOVL         $0x22, AX
	MOVQ         AX, X2
	VPBROADCASTB X2, Y2
	SPLIT(64, AVX2_MASKS)
	VZEROUPPER
	SPLIT_RESULTS
