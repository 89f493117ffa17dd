// An indexed binary min-heap: the item with the smallest key in O(1), insert, remove and
// re-key any item in O(log n). Each item keeps its own place in the heap (the `slot`
// accessors), so removing or re-keying one needs no search. The sender keeps its receivers'
// progress in these (sender/core/least-progress.ts), so the flow window's minimum costs the
// same with 10 or 10,000 receivers.
//
// What holds: every item in the heap has slot(item) = its index; an item not in the heap
// has slot(item) = -1; key(parent) <= key(child). Keys are read through `key` whenever the
// heap compares, so an item's key may change only between a call and the update() that
// follows it.

export interface HeapSlots<T> {
  key(item: T): number;
  slot(item: T): number;
  setSlot(item: T, slot: number): void;
}

export class MinHeap<T> {
  private readonly items: T[] = []; // bounded by what the caller inserts (the receivers)

  constructor(private readonly s: HeapSlots<T>) {}

  get size(): number {
    return this.items.length;
  }

  /** The item with the smallest key, or undefined when empty. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** The smallest key, or Infinity when empty. */
  minKey(): number {
    return this.items.length === 0 ? Infinity : this.s.key(this.items[0]!);
  }

  has(item: T): boolean {
    const i = this.s.slot(item);
    return i >= 0 && i < this.items.length && this.items[i] === item;
  }

  insert(item: T): void {
    if (this.has(item)) throw new RangeError('item is in the heap already');
    this.items.push(item);
    this.s.setSlot(item, this.items.length - 1);
    this.up(this.items.length - 1);
  }

  /** Its key changed (either way): restore the order. */
  update(item: T): void {
    const i = this.s.slot(item);
    if (!this.has(item)) throw new RangeError('item is not in the heap');
    if (!this.up(i)) this.down(i);
  }

  remove(item: T): void {
    if (!this.has(item)) return;
    const i = this.s.slot(item);
    const last = this.items.pop()!;
    this.s.setSlot(item, -1);
    if (i === this.items.length) return;
    this.items[i] = last;
    this.s.setSlot(last, i);
    if (!this.up(i)) this.down(i);
  }

  /** Every item, in heap order (not sorted). */
  values(): readonly T[] {
    return this.items;
  }

  /** Moves item i up while smaller than its parent; true if it moved. */
  private up(i: number): boolean {
    const a = this.items;
    const item = a[i]!;
    const k = this.s.key(item);
    const start = i;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.s.key(a[p]!) <= k) break;
      a[i] = a[p]!;
      this.s.setSlot(a[i]!, i);
      i = p;
    }
    a[i] = item;
    this.s.setSlot(item, i);
    return i !== start;
  }

  private down(i: number): void {
    const a = this.items;
    const n = a.length;
    const item = a[i]!;
    const k = this.s.key(item);
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.s.key(a[r]!) < this.s.key(a[l]!) ? r : l;
      if (this.s.key(a[c]!) >= k) break;
      a[i] = a[c]!;
      this.s.setSlot(a[i]!, i);
      i = c;
    }
    a[i] = item;
    this.s.setSlot(item, i);
  }
}
