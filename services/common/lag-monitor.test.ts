import { catchUp } from './lag-monitor';

const m = (o: Record<string, number>) => new Map(Object.entries(o));

describe('catchUp', () => {
  test('given positions short of the start targets, then remaining counts what is left and total what there was', () => {
    const c = catchUp(m({ 'a:0': 100, 'a:1': 50 }), m({ 'a:0': 0, 'a:1': 10 }), m({ 'a:0': 120, 'a:1': 50 }), m({ 'a:0': 60 }));
    expect(c).toEqual({ remaining: 40 + 40, total: 100 + 40, lag: 60 + 40 });
  });
  test('given positions at or past the targets, then nothing remains, and lag follows the current high watermarks', () => {
    const c = catchUp(m({ 'a:0': 100 }), m({ 'a:0': 0 }), m({ 'a:0': 130 }), m({ 'a:0': 110 }));
    expect(c).toEqual({ remaining: 0, total: 100, lag: 20 });
  });
  test('given a log start past the position (retention deleted records), then the position counts from the log start', () => {
    const c = catchUp(m({ 'a:0': 100 }), m({ 'a:0': 90 }), m({ 'a:0': 100 }), m({ 'a:0': 5 }));
    expect(c).toEqual({ remaining: 10, total: 10, lag: 10 });
  });
});
