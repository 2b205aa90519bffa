//==============================================================================
// SnapshotInstrument.cpp — the Snapshot store-tracking pass ("snapshot-instrument").
//
// WHAT IT INJECTS
//   After every instruction that may write memory inside a Snapshot region (a store of any width,
//   atomicrmw, cmpxchg, masked/VP stores and scatters, memset/memcpy/memmove intrinsics, the libc
//   calls that write a caller's buffer, libatomic calls), the fast path of snap_hook_store(addr,
//   len) from native/include/snapshot_hook.h, inline, with the write's true size (the DataLayout
//   store size; the length operand of a memory intrinsic, dynamic or not). For `*p = v` (i64):
//
//     store i64 %v, ptr %p, align 8                               ; the original store
//     %snap.addr = ptrtoint ptr %p to i64
//     %snap.arena.len = load atomic i64, ptr @snap_arena_len acquire, align 8
//     %snap.arena.lo = load atomic i64, ptr @snap_arena_lo monotonic, align 8
//     %snap.rel = sub i64 %snap.addr, %snap.arena.lo
//     %snap.in = icmp ult i64 %snap.rel, %snap.arena.len          ; the only cost outside the arena
//     br i1 %snap.in, label %snap.in_arena, label %cont, !prof !{1, 1048575}
//   snap.in_arena:                                                ; the region's slot
//     %snap.slots = load atomic ptr, ptr @snap_arena_slots monotonic, align 8
//     %snap.slot = getelementptr { i64, i64, ptr }, ptr %snap.slots, i64 (%snap.rel >> 30)
//     %snap.dirty, %snap.base, %snap.size = load atomic (monotonic) of the slot's three fields
//     %snap.off = sub i64 %snap.addr, %snap.base
//     %snap.fast = and (icmp ne ptr %snap.dirty, null), (icmp ult i64 %snap.off, %snap.size)
//     br i1 %snap.fast, label %snap.test, label %snap.slow
//   snap.test:                                                    ; the line's dirty bit
//     %snap.word = load atomic i64, ptr (%snap.dirty + 8 * (%snap.off >> 12)) acquire, align 8
//     %snap.marked = icmp ne i64 (and %snap.word, (shl 1, ((%snap.off >> 6) & 63))), 0
//     br i1 %snap.marked, label %cont, label %snap.slow           ; already marked: done
//   snap.slow:                                                    ; first store to the line
//     call void @snap_track_slow(ptr %p, i64 8)
//     br label %cont
//
//   A write that may span lines (unaligned, wider than its alignment, a memcpy) tests all its bits
//   inline while its first and last lines share one bitmap word (64 lines = 4 KiB, len <= 4096):
//   mask = (~0 << first) & (~0 >> (63 - last)); marked = (word & mask) == mask.
//   Plain stores to one base pointer at constant offsets within 64 bytes, in one basic block with
//   no call, atomic or fence between them, share one hook after the last, over their union.
//
//   Cost: a store outside the arena pays two loads of hot globals, a subtraction, a compare and a
//   not-taken branch — no call. A store inside the arena whose lines are already marked adds five
//   loads and a test — no call. Only the first store to a line after each msync, or a write
//   crossing a 4 KiB bitmap word, calls snap_track_slow() (which marks with atomic ORs).
//   -snapshot-inline-bit-test=false keeps only the range check inline and calls snap_track_slow()
//   for every in-arena store (less code, one call per in-arena store).
//
// WHAT IT SKIPS (each counted, each with a knob to turn the skip off)
//   - writes whose underlying objects (getUnderlyingObjects, through phi/select) are all
//     non-escaping allocas (PointerMayBeCaptured) or byval arguments;  -snapshot-skip-stack=false
//   - writes to global variables (never inside the arena, an anonymous mapping);
//     -snapshot-skip-globals=false
//   - writes to thread-local variables, named directly or through llvm.threadlocal.address;
//     -snapshot-skip-tls=false
//   - writes to address spaces other than 0;  -snapshot-skip-other-addrspace=false
//   - functions with __attribute__((disable_sanitizer_instrumentation)) or
//     __attribute__((annotate("snapshot_no_instrument"))).
//   Writes it cannot instrument (inline assembly, unknown intrinsics, musttail calls) are counted
//   as "unhandled"; writes done by code built without the plugin are invisible. Track both by hand
//   with snap_track().
//
// WHEN IT RUNS
//   At the end of the optimisation pipeline (OptimizerLastEP, which LLVM 19 runs at -O0 too, after
//   always-inline), so only the stores that survive optimisation are instrumented; isRequired(), so
//   optnone code is instrumented too. Also available as -passes=snapshot-instrument. Idempotent: an
//   instrumented function carries the attribute "snapshot-instrumented".
//
// USAGE
//   clang-19 -O2 -fpass-plugin=libsnapshot-pass.so prog.c -lsnapshot       (clang++-19 likewise)
//   opt-19 -load-pass-plugin=libsnapshot-pass.so -passes=snapshot-instrument -S in.ll -o out.ll
//   Knobs (hidden cl::opts) from clang need the plugin loaded before -mllvm is parsed:
//   clang-19 -fplugin=libsnapshot-pass.so -fpass-plugin=libsnapshot-pass.so -mllvm -snapshot-stats
//   -snapshot-count-dynamic (measuring only) also counts at run time every write seen, by what the
//   pass did with it, and every hook run, in the arena, slow path: see runtime/snapshot_count.h.
//
// ONE SOURCE
//   The hook is the fast path of the marking protocol written in native/src/dirty_map.h; the
//   numbers in the IR above (30, 12, 6, 63, 4096) are those of native/include/snapshot_layout.h,
//   which this file is compiled against, and the slot's shape is struct snap_arena_slot.
//==============================================================================
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/Statistic.h"
#include "llvm/Analysis/CaptureTracking.h"
#include "llvm/Analysis/TargetLibraryInfo.h"
#include "llvm/Analysis/ValueTracking.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/MDBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/PassManager.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Passes/PassPlugin.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Transforms/Utils/BasicBlockUtils.h"

#include <cstddef>

#include "snapshot_count.h"
#include "snapshot_hook.h"
#include "snapshot_layout.h"

using namespace llvm;

#define DEBUG_TYPE "snapshot-instrument"

// The layout the inline hook reads is libsnapshot's, from its headers (snapshot_layout.h); the IR
// mirrors struct snap_arena_slot as { i64 base, i64 size, ptr dirty } on 64-bit targets.
static constexpr unsigned SnapLineShift = SNAP_LINE_SHIFT;
static constexpr uint64_t SnapLineBytes = uint64_t(1) << SNAP_LINE_SHIFT;
static constexpr unsigned SnapWordShift = SNAP_DIRTY_WORD_SHIFT; // bits per bitmap word, log2
static constexpr unsigned SnapSlotShift = SNAP_SLOT_SHIFT;
// Bytes one bitmap word covers: a write no longer than this can be tested against one word.
static constexpr uint64_t SnapWordSpan = uint64_t(1) << (SNAP_LINE_SHIFT + SNAP_DIRTY_WORD_SHIFT);
static_assert(SnapWordShift == 6, "bitmap words are emitted as i64");
static_assert(offsetof(snap_arena_slot, base) == 0 && offsetof(snap_arena_slot, size) == 8 &&
                  offsetof(snap_arena_slot, dirty) == 16 && sizeof(snap_arena_slot) == 24,
              "struct snap_arena_slot changed: update SlotTy in declareRuntime()");

// ---- Knobs -------------------------------------------------------------------------------------

static cl::opt<bool> ClEnable("snapshot-enable", cl::init(true), cl::Hidden,
                              cl::desc("Instrument stores for Snapshot (false: the pass does nothing)"));
static cl::opt<bool> ClSkipStack("snapshot-skip-stack", cl::init(true), cl::Hidden,
                                 cl::desc("Skip stores to non-escaping stack objects"));
static cl::opt<bool> ClSkipGlobals("snapshot-skip-globals", cl::init(true), cl::Hidden,
                                   cl::desc("Skip stores to global variables"));
static cl::opt<bool> ClSkipTLS("snapshot-skip-tls", cl::init(true), cl::Hidden,
                               cl::desc("Skip stores to thread-local variables"));
static cl::opt<bool> ClSkipAddrSpace("snapshot-skip-other-addrspace", cl::init(true), cl::Hidden,
                                     cl::desc("Skip stores to address spaces other than 0"));
static cl::opt<bool> ClAtomics("snapshot-instrument-atomics", cl::init(true), cl::Hidden,
                               cl::desc("Instrument atomicrmw, cmpxchg and __atomic_* calls"));
static cl::opt<bool> ClMemIntrinsics("snapshot-instrument-memintrinsics", cl::init(true),
                                     cl::Hidden,
                                     cl::desc("Instrument memset/memcpy/memmove intrinsics"));
static cl::opt<bool> ClLibCalls("snapshot-instrument-libcalls", cl::init(true), cl::Hidden,
                                cl::desc("Instrument libc calls that write a buffer (memcpy, ...)"));
static cl::opt<bool> ClInlineBitTest(
    "snapshot-inline-bit-test", cl::init(true), cl::Hidden,
    cl::desc("Inline the slot lookup and line-bit test (false: call snap_track_slow for every "
             "in-arena store)"));
static cl::opt<bool> ClMergeStores(
    "snapshot-merge-stores", cl::init(true), cl::Hidden,
    cl::desc("One hook for plain stores to a common base in a basic block, with nothing between "
             "them that may synchronize (a call, an atomic, a fence)"));
static cl::opt<unsigned> ClMergeSpan("snapshot-merge-span", cl::init(unsigned(SnapLineBytes)),
                                     cl::Hidden,
                                     cl::desc("Largest range, in bytes, one merged hook covers"));
static cl::opt<bool> ClPrintStats("snapshot-stats", cl::init(false), cl::Hidden,
                                  cl::desc("Print the pass's counters to stderr for each module"));
static cl::opt<bool> ClCountDynamic(
    "snapshot-count-dynamic", cl::init(false), cl::Hidden,
    cl::desc("Also count at run time every write seen (instrumented, skipped by reason, "
             "unhandled) and every hook run (in the arena, slow path) in the global array "
             "snapshot_pass_counts; llvm-pass/runtime/snapshot_count.c prints it. For measuring "
             "only: the increments are atomic adds"));

// ---- Counters: LLVM STATISTICs (shown by -stats in an LLVM built with assertions) and the same
// figures kept by the pass for -snapshot-stats (release LLVM builds compile STATISTIC away). ----

STATISTIC(NumStores, "stores instrumented (scalar, aggregate, vector)");
STATISTIC(NumAtomics, "atomicrmw, cmpxchg and __atomic_* calls instrumented");
STATISTIC(NumMasked, "masked/VP stores and scatters instrumented");
STATISTIC(NumMemIntrinsics, "memset/memcpy/memmove intrinsics instrumented");
STATISTIC(NumLibCalls, "libc calls writing a buffer instrumented");
STATISTIC(NumSkippedStack, "stores skipped: non-escaping stack object");
STATISTIC(NumSkippedGlobal, "stores skipped: global variable");
STATISTIC(NumSkippedTLS, "stores skipped: thread-local variable");
STATISTIC(NumSkippedAddrSpace, "stores skipped: address space other than 0");
STATISTIC(NumUnhandled, "writes the pass cannot instrument (inline asm, unknown intrinsics)");
STATISTIC(NumHooks, "hooks inserted");
STATISTIC(NumMerged, "stores tracked by the hook of a neighbouring store (-snapshot-merge-stores)");

namespace {

enum Counter {
  CStore, CAtomic, CMasked, CMemIntrinsic, CLibCall,
  CSkipStack, CSkipGlobal, CSkipTLS, CSkipAddrSpace, CUnhandled, CHooks, CMerged, NumCounters
};
Statistic *const Stats[NumCounters] = {
    &NumStores,       &NumAtomics,       &NumMasked,     &NumMemIntrinsics,     &NumLibCalls,
    &NumSkippedStack, &NumSkippedGlobal, &NumSkippedTLS, &NumSkippedAddrSpace, &NumUnhandled,
    &NumHooks,        &NumMerged};
// -snapshot-count-dynamic: the per-write counters are the runtime's first ones, in the same order.
static_assert(int(CStore) == SNAPSHOT_COUNT_STORES && int(CAtomic) == SNAPSHOT_COUNT_ATOMICS &&
                  int(CMasked) == SNAPSHOT_COUNT_MASKED &&
                  int(CMemIntrinsic) == SNAPSHOT_COUNT_MEMINTRINSICS &&
                  int(CLibCall) == SNAPSHOT_COUNT_LIBCALLS &&
                  int(CSkipStack) == SNAPSHOT_COUNT_SKIPPED_STACK &&
                  int(CSkipGlobal) == SNAPSHOT_COUNT_SKIPPED_GLOBAL &&
                  int(CSkipTLS) == SNAPSHOT_COUNT_SKIPPED_TLS &&
                  int(CSkipAddrSpace) == SNAPSHOT_COUNT_SKIPPED_ADDRSPACE &&
                  int(CUnhandled) == SNAPSHOT_COUNT_UNHANDLED &&
                  SNAPSHOT_COUNT_NUM <= SNAPSHOT_COUNT_ARRAY,
              "llvm-pass/runtime/snapshot_count.h and the pass's counters disagree");
const char *const CounterNames[NumCounters] = {
    "stores",          "atomics",        "masked",      "memintrinsics",     "libcalls",
    "skipped-stack",   "skipped-global", "skipped-tls", "skipped-addrspace", "unhandled",
    "hooks",           "merged"};

// Where a written pointer may point, as far as tracking is concerned.
enum class Target { Track, Stack, Global, TLS, AddrSpace };

// A libc function that writes a caller's buffer: which argument is the buffer and how many bytes it
// may write (a superset is fine: marking an unchanged line costs a 64-byte copy at commit).
struct LibWrite {
  int Dest;                    // argument index of the buffer
  int Len = -1;                // argument index of the length, or -1
  int LenMul = -1;             // argument multiplied with Len (fread), or -1
  bool StrlenAfter = false;    // length is strlen(dest) + 1, measured after the call
};

std::optional<LibWrite> libWrite(LibFunc F) {
  switch (F) {
  case LibFunc_memcpy: case LibFunc_memmove: case LibFunc_memset: case LibFunc_mempcpy:
  case LibFunc_memcpy_chk: case LibFunc_memmove_chk: case LibFunc_memset_chk:
  case LibFunc_mempcpy_chk: case LibFunc_memset_pattern4: case LibFunc_memset_pattern8:
  case LibFunc_memset_pattern16: case LibFunc_strncpy: case LibFunc_stpncpy:
  case LibFunc_strncpy_chk: case LibFunc_stpncpy_chk: case LibFunc_strlcpy: case LibFunc_strlcat:
  case LibFunc_strlcpy_chk: case LibFunc_strlcat_chk:
    return LibWrite{0, 2};
  case LibFunc_memccpy: case LibFunc_memccpy_chk:
    return LibWrite{0, 3};
  case LibFunc_bzero: case LibFunc_snprintf: case LibFunc_vsnprintf: case LibFunc_snprintf_chk:
  case LibFunc_vsnprintf_chk: case LibFunc_fgets: case LibFunc_fgets_unlocked:
    return LibWrite{0, 1};
  case LibFunc_bcopy: case LibFunc_read: case LibFunc_pread:
    return LibWrite{1, 2};
  case LibFunc_fread: case LibFunc_fread_unlocked:
    return LibWrite{0, 1, 2};
  case LibFunc_strcpy: case LibFunc_stpcpy: case LibFunc_strcat: case LibFunc_strncat:
  case LibFunc_strcpy_chk: case LibFunc_stpcpy_chk: case LibFunc_strcat_chk:
  case LibFunc_strncat_chk: case LibFunc_sprintf: case LibFunc_vsprintf: case LibFunc_sprintf_chk:
  case LibFunc_vsprintf_chk:
    return LibWrite{0, -1, -1, true};
  default:
    return std::nullopt;
  }
}

// libatomic's entry points, which clang calls for atomics it cannot inline (large or misaligned):
// the generic ones take (size, ptr, ...), the sized ones (__atomic_store_8, __atomic_fetch_add_4,
// ...) take (ptr, ...).
struct AtomicCall {
  int Dest;      // argument index of the pointer written
  int SizeArg;   // argument index of the size, or -1
  uint64_t Size; // the size when SizeArg is -1
};

std::optional<AtomicCall> atomicLibCall(StringRef Name) {
  if (!Name.consume_front("__atomic_"))
    return std::nullopt;
  if (Name == "store" || Name == "exchange" || Name == "compare_exchange")
    return AtomicCall{1, 0, 0};
  size_t Us = Name.rfind('_');
  if (Us == StringRef::npos)
    return std::nullopt;
  StringRef Op = Name.take_front(Us), N = Name.drop_front(Us + 1);
  uint64_t Size;
  if (N.getAsInteger(10, Size) || !(Size == 1 || Size == 2 || Size == 4 || Size == 8 || Size == 16))
    return std::nullopt;
  bool Writes = Op == "store" || Op == "exchange" || Op == "compare_exchange" ||
                Op.starts_with("fetch_") || Op.ends_with("_fetch");
  if (!Writes)
    return std::nullopt;
  return AtomicCall{0, -1, Size};
}

// A write of Size bytes aligned to Alignment stays inside one line (regions start on a slot
// boundary, so an address's alignment is its offset's alignment).
bool fitsOneLine(TypeSize Size, Align Alignment) {
  if (Size.isScalable())
    return false;
  uint64_t N = Size.getFixedValue();
  return N && isPowerOf2_64(N) && N <= SnapLineBytes && Alignment.value() >= N;
}

// Whether I may order the stores before it with respect to another thread or to an msync: a call
// (which may be snap_msync itself), an atomic or a fence. Hooks are never merged across one.
bool mayOrderStores(const Instruction &I) {
  if (isa<FenceInst>(I) || isa<AtomicRMWInst>(I) || isa<AtomicCmpXchgInst>(I))
    return true;
  if (auto *L = dyn_cast<LoadInst>(&I))
    return !L->isUnordered();
  if (auto *S = dyn_cast<StoreInst>(&I))
    return !S->isUnordered();
  if (auto *CB = dyn_cast<CallBase>(&I)) {
    if (auto *II = dyn_cast<IntrinsicInst>(CB))
      return !(II->isAssumeLikeIntrinsic() || II->doesNotAccessMemory() ||
               isa<AnyMemIntrinsic>(II));
    return true;
  }
  return false;
}

class Instrumenter {
public:
  Instrumenter(Module &M, FunctionAnalysisManager &FAM)
      : M(M), DL(M.getDataLayout()), Ctx(M.getContext()), FAM(FAM),
        IntPtrTy(DL.getIntPtrType(Ctx)), PtrTy(PointerType::getUnqual(Ctx)),
        Int64Ty(Type::getInt64Ty(Ctx)) {}

  bool run();

private:
  struct Site {
    Instruction *I;                              // the hook goes right after it
    Counter Kind;
    Value *Addr;                                 // pointer written (or vector of pointers)
    std::function<Value *(IRBuilder<> &)> Len;  // bytes written, evaluated at the hook
    bool OneLine = false;                        // cannot span lines: size <= its alignment
    // Plain stores merged under one hook: [Base + Lo, Base + Hi); I is the last of them.
    Value *Base = nullptr;
    int64_t Lo = 0, Hi = 0;
    unsigned Stores = 1;
    Instruction *First = nullptr; // merged stores: the first of them (I is the last)
  };

  void declareRuntime();
  bool excluded(Function &F);
  void collect(Function &F, SmallVectorImpl<Site> &Sites);
  Target classify(Value *Ptr);
  Target classifyObject(const Value *O);
  void count(Counter C) {
    ++Counts[C];
    ++*Stats[C];
    if (ClCountDynamic && C <= CUnhandled && CurInst)
      DynWrites.push_back({CurInst, C}); // counted at run time, before CurInst
  }
  void declareCounts();
  void bump(IRBuilder<> &B, unsigned Index);
  bool skip(Value *Ptr);
  void instrument(Site &S);
  void emitHook(BasicBlock::iterator Pt, const DebugLoc &Loc, Value *Addr,
                const std::function<Value *(IRBuilder<> &)> &Len, bool OneLine);
  std::function<Value *(IRBuilder<> &)> constLen(TypeSize TS) {
    return [this, TS](IRBuilder<> &B) { return B.CreateTypeSize(IntPtrTy, TS); };
  }
  std::function<Value *(IRBuilder<> &)> valueLen(Value *V) {
    return [this, V](IRBuilder<> &B) { return B.CreateZExtOrTrunc(V, IntPtrTy); };
  }
  void markOurs(Instruction *I) { I->setMetadata(LLVMContext::MD_nosanitize, MDNode::get(Ctx, {})); }
  void printStats();

  Module &M;
  const DataLayout &DL;
  LLVMContext &Ctx;
  FunctionAnalysisManager &FAM;
  Type *IntPtrTy;
  PointerType *PtrTy;
  Type *Int64Ty;
  StructType *SlotTy = nullptr;
  Constant *ArenaLo = nullptr, *ArenaLen = nullptr, *ArenaSlots = nullptr;
  FunctionCallee TrackSlow, Strlen;
  SmallPtrSet<const Function *, 8> Annotated;
  DenseMap<const AllocaInst *, bool> Escapes;
  uint64_t Counts[NumCounters] = {};
  // -snapshot-count-dynamic: the write being looked at, and each write with its counter.
  Instruction *CurInst = nullptr;
  SmallVector<std::pair<Instruction *, Counter>, 32> DynWrites;
  GlobalVariable *DynCounts = nullptr;
};

// The array snapshot_pass_counts, defined weak and zero here, so that every instrumented module
// has it; llvm-pass/runtime/snapshot_count.c defines it too and prints it.
void Instrumenter::declareCounts() {
  auto *Ty = ArrayType::get(Int64Ty, SNAPSHOT_COUNT_ARRAY);
  DynCounts = M.getNamedGlobal("snapshot_pass_counts");
  if (!DynCounts) {
    DynCounts = new GlobalVariable(M, Ty, /*isConstant=*/false, GlobalValue::WeakAnyLinkage,
                                   ConstantAggregateZero::get(Ty), "snapshot_pass_counts");
    DynCounts->setAlignment(Align(8));
  }
}

// snapshot_pass_counts[Index] += 1, relaxed atomic.
void Instrumenter::bump(IRBuilder<> &B, unsigned Index) {
  Value *P = B.CreateConstInBoundsGEP2_64(DynCounts->getValueType(), DynCounts, 0, Index);
  markOurs(B.CreateAtomicRMW(AtomicRMWInst::Add, P, ConstantInt::get(Int64Ty, 1), MaybeAlign(8),
                             AtomicOrdering::Monotonic));
}

void Instrumenter::declareRuntime() {
  // struct snap_arena_slot { uintptr_t base; uint64_t size; uint64_t *dirty; }
  SlotTy = StructType::get(Ctx, {IntPtrTy, Int64Ty, PtrTy});
  ArenaLo = M.getOrInsertGlobal("snap_arena_lo", IntPtrTy);
  ArenaLen = M.getOrInsertGlobal("snap_arena_len", IntPtrTy);
  ArenaSlots = M.getOrInsertGlobal("snap_arena_slots", PtrTy);
  AttributeList NoUnwind =
      AttributeList().addFnAttribute(Ctx, Attribute::NoUnwind);
  TrackSlow = M.getOrInsertFunction("snap_track_slow", NoUnwind, Type::getVoidTy(Ctx), PtrTy,
                                    IntPtrTy);
}

// Functions the user opted out with __attribute__((annotate("snapshot_no_instrument"))).
static void findAnnotated(Module &M, SmallPtrSetImpl<const Function *> &Out) {
  GlobalVariable *GA = M.getNamedGlobal("llvm.global.annotations");
  if (!GA || !GA->hasInitializer())
    return;
  auto *Arr = dyn_cast<ConstantArray>(GA->getInitializer());
  if (!Arr)
    return;
  for (Value *Op : Arr->operands()) {
    auto *CS = dyn_cast<ConstantStruct>(Op);
    if (!CS || CS->getNumOperands() < 2)
      continue;
    auto *F = dyn_cast<Function>(CS->getOperand(0)->stripPointerCasts());
    auto *StrGV = dyn_cast<GlobalVariable>(CS->getOperand(1)->stripPointerCasts());
    if (!F || !StrGV || !StrGV->hasInitializer())
      continue;
    if (auto *Str = dyn_cast<ConstantDataArray>(StrGV->getInitializer()))
      if (Str->isCString() && Str->getAsCString() == "snapshot_no_instrument")
        Out.insert(F);
  }
}

bool Instrumenter::excluded(Function &F) {
  return F.isDeclaration() || F.hasFnAttribute("snapshot-instrumented") ||
         F.hasFnAttribute(Attribute::DisableSanitizerInstrumentation) ||
         F.hasFnAttribute(Attribute::Naked) || Annotated.count(&F);
}

Target Instrumenter::classifyObject(const Value *O) {
  if (auto *GA = dyn_cast<GlobalAlias>(O))
    if (const GlobalObject *Aliasee = GA->getAliaseeObject())
      O = Aliasee;
  if (auto *GV = dyn_cast<GlobalVariable>(O)) {
    if (GV->isThreadLocal())
      return ClSkipTLS ? Target::TLS : Target::Track;
    return ClSkipGlobals ? Target::Global : Target::Track;
  }
  if (auto *II = dyn_cast<IntrinsicInst>(O))
    if (II->getIntrinsicID() == Intrinsic::threadlocal_address)
      return ClSkipTLS ? Target::TLS : Target::Track;
  // A byval argument is the callee's own stack copy. (Not sret: the caller may pass a pointer
  // into a region to receive the result.)
  if (auto *Arg = dyn_cast<Argument>(O); Arg && Arg->hasByValAttr())
    return ClSkipStack ? Target::Stack : Target::Track;
  if (auto *AI = dyn_cast<AllocaInst>(O)) {
    if (!ClSkipStack)
      return Target::Track;
    auto [It, New] = Escapes.try_emplace(AI, false);
    if (New)
      It->second = PointerMayBeCaptured(AI, /*ReturnCaptures=*/true, /*StoreCaptures=*/true);
    return It->second ? Target::Track : Target::Stack;
  }
  return Target::Track;
}

Target Instrumenter::classify(Value *Ptr) {
  if (Ptr->getType()->getPointerAddressSpace() != 0)
    return ClSkipAddrSpace ? Target::AddrSpace : Target::Track;
  SmallVector<const Value *, 4> Objects;
  getUnderlyingObjects(Ptr, Objects);
  if (Objects.empty())
    return Target::Track;
  // Skip only if every object the pointer may be based on is skippable; report the most specific.
  Target Result = Target::Stack;
  for (const Value *O : Objects) {
    Target T = classifyObject(O);
    if (T == Target::Track)
      return Target::Track;
    if (T == Target::TLS || (T == Target::Global && Result != Target::TLS))
      Result = T;
  }
  return Result;
}

// Counts and returns true if the write through Ptr needs no hook.
bool Instrumenter::skip(Value *Ptr) {
  switch (classify(Ptr)) {
  case Target::Track: return false;
  case Target::Stack: count(CSkipStack); return true;
  case Target::Global: count(CSkipGlobal); return true;
  case Target::TLS: count(CSkipTLS); return true;
  case Target::AddrSpace: count(CSkipAddrSpace); return true;
  }
  llvm_unreachable("bad Target");
}

void Instrumenter::collect(Function &F, SmallVectorImpl<Site> &Sites) {
  auto &TLI = FAM.getResult<TargetLibraryAnalysis>(F);
  for (BasicBlock &BB : F) {
    DenseMap<Value *, size_t> Open; // base pointer -> the Site of its stores since the last sync
    for (Instruction &I : BB) {
      CurInst = &I;
      if (mayOrderStores(I))
        Open.clear();
      if (auto *SI = dyn_cast<StoreInst>(&I)) {
        Value *Ptr = SI->getPointerOperand();
        if (skip(Ptr))
          continue;
        TypeSize TS = DL.getTypeStoreSize(SI->getValueOperand()->getType());
        Site S{&I, CStore, Ptr, constLen(TS), fitsOneLine(TS, SI->getAlign())};
        if (ClMergeStores && SI->isSimple() && !TS.isScalable()) {
          int64_t Off = 0;
          Value *Base = GetPointerBaseWithConstantOffset(Ptr, Off, DL);
          int64_t End = Off + int64_t(TS.getFixedValue());
          auto It = Open.find(Base);
          if (It != Open.end()) {
            Site &G = Sites[It->second];
            int64_t Lo = std::min(G.Lo, Off), Hi = std::max(G.Hi, End);
            if (Hi - Lo <= int64_t(ClMergeSpan)) { // one hook, after this store, for the group
              if (!G.First)
                G.First = G.I;
              G.I = &I;
              G.Lo = Lo;
              G.Hi = Hi;
              G.Stores++;
              count(CStore);
              count(CMerged);
              continue;
            }
          }
          S.Base = Base;
          S.Lo = Off;
          S.Hi = End;
          Open[Base] = Sites.size();
        }
        Sites.push_back(S);
        continue;
      }
      if (auto *RMW = dyn_cast<AtomicRMWInst>(&I)) {
        TypeSize TS = DL.getTypeStoreSize(RMW->getValOperand()->getType());
        if (ClAtomics && !skip(RMW->getPointerOperand()))
          Sites.push_back({&I, CAtomic, RMW->getPointerOperand(), constLen(TS),
                           fitsOneLine(TS, RMW->getAlign())});
        continue;
      }
      if (auto *CX = dyn_cast<AtomicCmpXchgInst>(&I)) {
        TypeSize TS = DL.getTypeStoreSize(CX->getNewValOperand()->getType());
        if (ClAtomics && !skip(CX->getPointerOperand()))
          Sites.push_back({&I, CAtomic, CX->getPointerOperand(), constLen(TS),
                           fitsOneLine(TS, CX->getAlign())});
        continue;
      }
      auto *CB = dyn_cast<CallBase>(&I);
      if (!CB || !CB->mayWriteToMemory())
        continue;
      if (CB->isInlineAsm()) {
        count(CUnhandled);
        continue;
      }
      if (auto *MI = dyn_cast<AnyMemIntrinsic>(CB)) {
        if (ClMemIntrinsics && !skip(MI->getRawDest()))
          Sites.push_back({&I, CMemIntrinsic, MI->getRawDest(), valueLen(MI->getLength())});
        continue;
      }
      if (auto *II = dyn_cast<IntrinsicInst>(CB)) {
        switch (II->getIntrinsicID()) {
        case Intrinsic::masked_store:        // (value, ptr, align, mask)
        case Intrinsic::masked_compressstore: // (value, ptr, mask)
        case Intrinsic::vp_store: {          // (value, ptr, mask, evl)
          // The whole vector's width: a superset of the lanes the mask enables.
          Value *P = II->getArgOperand(1);
          if (!skip(P))
            Sites.push_back({&I, CMasked, P,
                             constLen(DL.getTypeStoreSize(II->getArgOperand(0)->getType()))});
          break;
        }
        case Intrinsic::masked_scatter: // (value, <N x ptr>, align, mask)
        case Intrinsic::vp_scatter: {   // (value, <N x ptr>, mask, evl)
          Value *Ptrs = II->getArgOperand(1);
          if (isa<ScalableVectorType>(Ptrs->getType())) {
            count(CUnhandled);
            break;
          }
          if (!skip(Ptrs))
            Sites.push_back({&I, CMasked, Ptrs,
                             constLen(DL.getTypeStoreSize(
                                 cast<VectorType>(II->getArgOperand(0)->getType())
                                     ->getElementType()))});
          break;
        }
        case Intrinsic::lifetime_start: case Intrinsic::lifetime_end:
        case Intrinsic::invariant_start: case Intrinsic::invariant_end:
        case Intrinsic::assume: case Intrinsic::experimental_noalias_scope_decl:
        case Intrinsic::prefetch: case Intrinsic::stacksave: case Intrinsic::stackrestore:
        case Intrinsic::vastart: case Intrinsic::vaend: case Intrinsic::vacopy:
        case Intrinsic::trap: case Intrinsic::debugtrap: case Intrinsic::sideeffect:
        case Intrinsic::pseudoprobe: case Intrinsic::threadlocal_address:
        case Intrinsic::donothing: case Intrinsic::ubsantrap:
          break; // write nothing a program can see (va_list is a stack object)
        default:
          if (!II->onlyAccessesInaccessibleMemory())
            count(CUnhandled);
          break;
        }
        continue;
      }
      Function *Callee = CB->getCalledFunction();
      if (!Callee || !Callee->isDeclaration())
        continue; // instrumented where it is defined, or (indirect call) wherever it is compiled
      if (ClAtomics) {
        if (auto AC = atomicLibCall(Callee->getName())) {
          if (CB->arg_size() > unsigned(std::max(AC->Dest, AC->SizeArg)) &&
              CB->getArgOperand(AC->Dest)->getType()->isPointerTy() &&
              !skip(CB->getArgOperand(AC->Dest))) {
            auto Len = AC->SizeArg >= 0 ? valueLen(CB->getArgOperand(AC->SizeArg))
                                        : constLen(TypeSize::getFixed(AC->Size));
            Sites.push_back({&I, CAtomic, CB->getArgOperand(AC->Dest), Len});
          }
          continue;
        }
      }
      LibFunc LF;
      if (!ClLibCalls || !TLI.getLibFunc(*Callee, LF))
        continue;
      std::optional<LibWrite> W = libWrite(LF);
      if (!W)
        continue;
      Value *Dest = CB->getArgOperand(W->Dest);
      if (skip(Dest))
        continue;
      std::function<Value *(IRBuilder<> &)> Len;
      if (W->StrlenAfter) {
        Len = [this, Dest](IRBuilder<> &B) {
          if (!Strlen)
            Strlen = M.getOrInsertFunction(
                "strlen", AttributeList().addFnAttribute(Ctx, Attribute::NoUnwind), IntPtrTy,
                PtrTy);
          CallInst *N = B.CreateCall(Strlen, {Dest});
          return B.CreateAdd(N, ConstantInt::get(IntPtrTy, 1));
        };
      } else if (W->LenMul >= 0) {
        Value *A = CB->getArgOperand(W->Len), *C = CB->getArgOperand(W->LenMul);
        Len = [this, A, C](IRBuilder<> &B) {
          return B.CreateMul(B.CreateZExtOrTrunc(A, IntPtrTy), B.CreateZExtOrTrunc(C, IntPtrTy));
        };
      } else {
        Len = valueLen(CB->getArgOperand(W->Len));
      }
      Sites.push_back({&I, CLibCall, Dest, Len});
    }
  }
}

void Instrumenter::instrument(Site &S) {
  Instruction *I = S.I;
  CurInst = S.First ? S.First : I;
  BasicBlock::iterator Pt;
  if (auto *Inv = dyn_cast<InvokeInst>(I)) {
    BasicBlock *Normal = SplitEdge(Inv->getParent(), Inv->getNormalDest());
    Pt = Normal->getFirstInsertionPt();
  } else if (isa<CallBrInst>(I) ||
             (isa<CallInst>(I) && cast<CallInst>(I)->isMustTailCall())) {
    count(CUnhandled); // nothing may follow a musttail call but ret
    return;
  } else {
    Pt = std::next(I->getIterator());
  }
  count(S.Kind);
  count(CHooks);
  if (auto *VT = dyn_cast<FixedVectorType>(S.Addr->getType())) {
    // A scatter: one hook per lane. Disabled lanes may hold poison pointers; freeze them so the
    // range check never branches on poison (their hooks mark nothing, or a harmless extra line).
    IRBuilder<> B(I->getParent(), Pt);
    SmallVector<Value *, 8> Lanes;
    for (unsigned L = 0; L < VT->getNumElements(); ++L)
      Lanes.push_back(B.CreateFreeze(B.CreateExtractElement(S.Addr, L), "snap.lane"));
    for (Value *Lane : Lanes) // each hook goes before Pt, which stays the scatter's successor
      emitHook(Pt, I->getDebugLoc(), Lane, S.Len, S.OneLine);
    for (size_t L = 1; L < Lanes.size(); ++L)
      count(CHooks);
    return;
  }
  if (S.Stores > 1) { // merged stores: one hook for their union
    IRBuilder<> B(I->getParent(), Pt);
    Value *Addr = S.Lo ? B.CreatePtrAdd(S.Base, ConstantInt::get(Int64Ty, S.Lo), "snap.group")
                       : S.Base;
    emitHook(Pt, I->getDebugLoc(), Addr, constLen(TypeSize::getFixed(S.Hi - S.Lo)), false);
    return;
  }
  emitHook(Pt, I->getDebugLoc(), S.Addr, S.Len, S.OneLine);
}

// Inserts the inline snap_hook_store(Addr, Len) before Pt (see the banner for the IR).
void Instrumenter::emitHook(BasicBlock::iterator Pt, const DebugLoc &Loc, Value *Addr,
                           const std::function<Value *(IRBuilder<> &)> &Len, bool OneLine) {
  MDBuilder MDB(Ctx);
  Align PtrAlign = DL.getPointerABIAlignment(0);
  IRBuilder<> B(Pt->getParent(), Pt);
  B.SetCurrentDebugLocation(Loc);
  auto AtomicLoad = [&](Type *Ty, Value *P, AtomicOrdering O, const Twine &Name) {
    LoadInst *L = B.CreateAlignedLoad(Ty, P, Ty == Int64Ty ? Align(8) : PtrAlign, Name);
    L->setAtomic(O);
    markOurs(L);
    return L;
  };
  if (Addr->getType()->getPointerAddressSpace() != 0) // only with -snapshot-skip-other-addrspace=false
    Addr = B.CreateAddrSpaceCast(Addr, PtrTy);
  if (DynCounts)
    bump(B, SNAPSHOT_COUNT_HOOKS);
  Value *A = B.CreatePtrToInt(Addr, IntPtrTy, "snap.addr");
  // Acquire on the length, as the C hook does: the arena's bounds are read after it is published.
  Value *ArenaLenV = AtomicLoad(IntPtrTy, ArenaLen, AtomicOrdering::Acquire, "snap.arena.len");
  Value *ArenaLoV = AtomicLoad(IntPtrTy, ArenaLo, AtomicOrdering::Monotonic, "snap.arena.lo");
  Value *Rel = B.CreateSub(A, ArenaLoV, "snap.rel");
  Value *In = B.CreateICmpULT(Rel, ArenaLenV, "snap.in");
  Instruction *Term =
      SplitBlockAndInsertIfThen(In, Pt, /*Unreachable=*/false, MDB.createUnlikelyBranchWeights());
  BasicBlock *InArena = Term->getParent();
  BasicBlock *Cont = Term->getSuccessor(0);
  InArena->setName("snap.in_arena");
  B.SetInsertPoint(Term);
  Value *N = Len(B);
  if (DynCounts)
    bump(B, SNAPSHOT_COUNT_IN_ARENA);
  if (!ClInlineBitTest) {
    if (DynCounts)
      bump(B, SNAPSHOT_COUNT_SLOW);
    markOurs(B.CreateCall(TrackSlow, {Addr, N}));
    return;
  }
  Function *F = InArena->getParent();
  BasicBlock *Test = BasicBlock::Create(Ctx, "snap.test", F, Cont);
  BasicBlock *Slow = BasicBlock::Create(Ctx, "snap.slow", F, Cont);

  Value *Slots = AtomicLoad(PtrTy, ArenaSlots, AtomicOrdering::Monotonic, "snap.slots");
  Value *Slot = B.CreateGEP(SlotTy, Slots, B.CreateLShr(Rel, SnapSlotShift), "snap.slot");
  Value *Dirty = AtomicLoad(PtrTy, B.CreateStructGEP(SlotTy, Slot, 2), AtomicOrdering::Monotonic,
                            "snap.dirty");
  Value *Base = AtomicLoad(IntPtrTy, B.CreateStructGEP(SlotTy, Slot, 0),
                           AtomicOrdering::Monotonic, "snap.base");
  Value *Size = AtomicLoad(Int64Ty, B.CreateStructGEP(SlotTy, Slot, 1), AtomicOrdering::Monotonic,
                           "snap.size");
  Value *Off = B.CreateSub(A, Base, "snap.off");
  Value *Ok = B.CreateAnd(B.CreateIsNotNull(Dirty), B.CreateICmpULT(Off, Size));
  Value *Last = nullptr;
  if (!OneLine) {
    // Several lines, all under one bitmap word (SnapWordSpan bytes): 1 <= len <= SnapWordSpan (so
    // that off + len - 1 cannot overflow) and the first and last line in the same word.
    Value *One = ConstantInt::get(IntPtrTy, 1);
    Last = B.CreateAdd(Off, B.CreateSub(N, One), "snap.last");
    Value *Fits = B.CreateICmpULT(B.CreateSub(N, One), ConstantInt::get(IntPtrTy, SnapWordSpan));
    Value *SameWord = B.CreateICmpEQ(B.CreateLShr(Off, SnapLineShift + SnapWordShift),
                                     B.CreateLShr(Last, SnapLineShift + SnapWordShift));
    if (auto *C = dyn_cast<ConstantInt>(Fits); !C || !C->isOne()) // true for a constant len
      SameWord = B.CreateAnd(SameWord, Fits);
    Ok = B.CreateAnd(Ok, SameWord);
  }
  Ok->setName("snap.fast");
  B.CreateCondBr(Ok, Test, Slow, MDB.createLikelyBranchWeights());
  Term->eraseFromParent();

  B.SetInsertPoint(Test);
  Value *Line = B.CreateLShr(Off, SnapLineShift, "snap.line");
  Value *WordP = B.CreateGEP(Int64Ty, Dirty, B.CreateLShr(Line, SnapWordShift));
  // Acquire, as the C hook: a bit set by another thread's marker orders that marker's entry into
  // the gate before this thread's later snap_msync() (native/src/dirty_map.h). A plain move on x86.
  Value *Word = AtomicLoad(Int64Ty, WordP, AtomicOrdering::Acquire, "snap.word");
  const uint64_t BitMask = (uint64_t(1) << SnapWordShift) - 1; // a line's bit in its word
  Value *BitMaskV = ConstantInt::get(IntPtrTy, BitMask);
  Value *FirstBit = B.CreateZExtOrTrunc(B.CreateAnd(Line, BitMaskV), Int64Ty);
  Value *Marked;
  if (OneLine) {
    Marked = B.CreateIsNotNull(B.CreateAnd(Word, B.CreateShl(ConstantInt::get(Int64Ty, 1), FirstBit)),
                               "snap.marked");
  } else {
    // Bits first..last of the word: all set?
    Value *LastBit = B.CreateZExtOrTrunc(
        B.CreateAnd(B.CreateLShr(Last, SnapLineShift), BitMaskV), Int64Ty);
    Value *AllOnes = ConstantInt::getAllOnesValue(Int64Ty);
    Value *Mask = B.CreateAnd(B.CreateShl(AllOnes, FirstBit),
                              B.CreateLShr(AllOnes, B.CreateSub(ConstantInt::get(Int64Ty, BitMask),
                                                                LastBit)),
                              "snap.mask");
    Marked = B.CreateICmpEQ(B.CreateAnd(Word, Mask), Mask, "snap.marked");
  }
  B.CreateCondBr(Marked, Cont, Slow, MDB.createLikelyBranchWeights());

  B.SetInsertPoint(Slow);
  if (DynCounts)
    bump(B, SNAPSHOT_COUNT_SLOW);
  markOurs(B.CreateCall(TrackSlow, {Addr, N}));
  B.CreateBr(Cont);
}

void Instrumenter::printStats() {
  uint64_t Instrumented = 0, Skipped = 0;
  for (int C = CStore; C <= CLibCall; ++C)
    Instrumented += Counts[C];
  for (int C = CSkipStack; C <= CSkipAddrSpace; ++C)
    Skipped += Counts[C];
  errs() << "snapshot-instrument: module " << M.getModuleIdentifier()
         << ": instrumented " << Instrumented << ", skipped " << Skipped;
  for (int C = 0; C < NumCounters; ++C)
    errs() << ", " << CounterNames[C] << " " << Counts[C];
  errs() << "\n";
}

bool Instrumenter::run() {
  if (!ClEnable)
    return false;
  findAnnotated(M, Annotated);
  SmallVector<Function *, 32> Funcs;
  for (Function &F : M)
    if (!excluded(F))
      Funcs.push_back(&F);
  bool Changed = false;
  if (ClCountDynamic && !Funcs.empty())
    declareCounts();
  for (Function *F : Funcs) {
    SmallVector<Site, 32> Sites;
    Escapes.clear();
    DynWrites.clear();
    CurInst = nullptr;
    collect(*F, Sites);
    if (!Sites.empty() && !SlotTy)
      declareRuntime();
    for (Site &S : Sites)
      instrument(S);
    for (auto &[I, C] : DynWrites) { // the write's own counter, just before it
      IRBuilder<> B(I);
      bump(B, C);
    }
    F->addFnAttr("snapshot-instrumented");
    Changed = true;
  }
  if (ClPrintStats)
    printStats();
  return Changed;
}

struct SnapshotInstrumentPass : PassInfoMixin<SnapshotInstrumentPass> {
  PreservedAnalyses run(Module &M, ModuleAnalysisManager &MAM) {
    auto &FAM = MAM.getResult<FunctionAnalysisManagerModuleProxy>(M).getManager();
    if (!Instrumenter(M, FAM).run())
      return PreservedAnalyses::all();
    return PreservedAnalyses::none();
  }
  static bool isRequired() { return true; } // instrument optnone / -O0 code too
};

} // namespace

extern "C" LLVM_ATTRIBUTE_WEAK PassPluginLibraryInfo llvmGetPassPluginInfo() {
  return {LLVM_PLUGIN_API_VERSION, "SnapshotInstrument", LLVM_VERSION_STRING,
          [](PassBuilder &PB) {
            // So that -print-pipeline-passes prints a pipeline that can be parsed back.
            if (PassInstrumentationCallbacks *PIC = PB.getPassInstrumentationCallbacks())
              PIC->addClassToPassName(SnapshotInstrumentPass::name(), "snapshot-instrument");
            PB.registerOptimizerLastEPCallback([](ModulePassManager &MPM, OptimizationLevel) {
              MPM.addPass(SnapshotInstrumentPass());
            });
            PB.registerPipelineParsingCallback(
                [](StringRef Name, ModulePassManager &MPM, ArrayRef<PassBuilder::PipelineElement>) {
                  if (Name != "snapshot-instrument")
                    return false;
                  MPM.addPass(SnapshotInstrumentPass());
                  return true;
                });
          }};
}
