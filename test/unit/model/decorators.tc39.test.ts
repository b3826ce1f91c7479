// TC39 standard decorators: no design:type, so kinds come from `type`; columns still register.
import { Column, Model, Table } from 'tributary'
import { getModelMeta } from '../../../src/model/decorators'

@Table('widgets')
class Widget extends Model {
  @Column({ primary: true, type: 'number' }) id!: number
  @Column({ name: 'is_on', type: Boolean }) on!: boolean
  @Column() label!: string
}

@Table('gadgets')
class Gadget extends Widget {
  @Column({ type: Date }) madeAt!: Date
}

describe('model decorators under TC39 standard decorators', () => {
  it('records table and columns, with kinds only where given', () => {
    const meta = getModelMeta(Widget)
    expect(meta.table).toBe('widgets')
    expect(meta.columns.map((c) => [c.property, c.name, c.kind])).toEqual([
      ['id', 'id', 'number'],
      ['on', 'is_on', 'boolean'],
      ['label', 'label', 'unknown'],
    ])
    expect(getModelMeta(Gadget).columns.map((c) => c.property)).toEqual(['id', 'on', 'label', 'madeAt'])
    expect(getModelMeta(Gadget).table).toBe('gadgets')
  })
})
