// Proves the tc39-decorators project really compiles with TC39 standard decorators: a standard
// decorator receives (value, context) and no design:type metadata is emitted.
function record(_value: undefined, context: ClassFieldDecoratorContext): void {
  seen.push(String(context.name))
}
const seen: string[] = []

class Example {
  @record port!: number
}

describe('tc39 decorator project', () => {
  it('runs standard decorators with a context object and emits no design:type', () => {
    expect(seen).toEqual(['port'])
    expect(Reflect.getMetadata('design:type', Example.prototype, 'port')).toBeUndefined()
  })
})
