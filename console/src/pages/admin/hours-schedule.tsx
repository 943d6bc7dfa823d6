// The business hours' fields of the service hours form: the time zone, a row per weekday (open or
// closed, up to four spans each: a lunch break is two) and the special days (a date and its label,
// closed all day or its own spans). Times are chosen every 15 minutes; 24:00 ends a day.
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { Button, Checkbox, DatePicker, Form, Input, Select, Switch, Typography } from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { useMemo } from 'react';
import { useI18n } from '../../i18n';
import {
  DEFAULT_SPAN, MAX_DAY_SPANS, MAX_LABEL, MAX_SPECIAL_DAYS, MAX_SPECIAL_SPANS, nextSpan, timeChoices, timeZones, weekdayNames, zoneOffset,
  type SpecialRow, type Span,
} from './hours-form';

export function BusinessHoursFields() {
  const { t } = useI18n();
  return (
    <>
      <Form.Item name="timezone" label={t('hours.timezone')} extra={t('hours.timezoneHelp')} rules={[{ required: true, message: t('field.required') }]}>
        <TimeZoneSelect />
      </Form.Item>
      <div className="hours-section-title">{t('hours.week')}</div>
      <WeekField />
      <div className="hours-section-title">{t('hours.special')}</div>
      <Typography.Paragraph type="secondary">{t('hours.specialHelp')}</Typography.Paragraph>
      <SpecialDays />
    </>
  );
}

function TimeZoneSelect({ value, onChange, id }: { value?: string; onChange?(zone: string): void; id?: string }) {
  const options = useMemo(
    () => timeZones(value).map((zone) => {
      const offset = zone === 'UTC' ? '' : zoneOffset(zone);
      return { value: zone, label: offset ? `${zone} (UTC${offset})` : zone, search: `${zone} ${offset}`.toLowerCase() };
    }),
    [value],
  );
  return (
    <Select id={id} value={value} onChange={onChange} options={options} style={{ width: 360, maxWidth: '100%' }} data-testid="hours-timezone"
      showSearch={{ filterOption: (input, option) => !!option?.search.includes(input.trim().toLowerCase()) }} />
  );
}

function WeekField() {
  const { lang } = useI18n();
  const names = useMemo(() => weekdayNames(lang), [lang]);
  return (
    <Form.List name="week">
      {(fields) => (
        <div className="hours-list">
          {fields.map((field) => <DayRowField key={field.key} index={field.name} name={names[field.name] ?? ''} />)}
        </div>
      )}
    </Form.List>
  );
}

function DayRowField({ index, name }: { index: number; name: string }) {
  const { t } = useI18n();
  const open = Form.useWatch(['week', index, 'open']) as boolean | undefined;
  return (
    <div className="hours-row" data-testid="hours-day" data-day={index + 1}>
      <div className="hours-row-head">
        <span className="hours-day-name">{name}</span>
        <Form.Item name={[index, 'open']} valuePropName="checked" noStyle>
          <Switch size="small" aria-label={`${name}: ${t('hours.open')}`} data-testid="hours-day-open" />
        </Form.Item>
        {!open && <Typography.Text type="secondary">{t('hours.closed')}</Typography.Text>}
      </div>
      {open && <Spans name={[index, 'spans']} path={['week', index, 'spans']} max={MAX_DAY_SPANS} />}
    </div>
  );
}

function SpecialDays() {
  const { t } = useI18n();
  return (
    <Form.List name="special">
      {(fields, { add, remove }) => (
        <div className="hours-list" data-testid="hours-special">
          {fields.length === 0 && <Typography.Text type="secondary" className="hours-row">{t('hours.noSpecial')}</Typography.Text>}
          {fields.map((field) => <SpecialRowField key={field.key} index={field.name} onRemove={() => remove(field.name)} />)}
          <div className="hours-row">
            <Button type="dashed" icon={<PlusOutlined />} disabled={fields.length >= MAX_SPECIAL_DAYS} data-testid="hours-add-special"
              onClick={() => add({ date: null, label: '', closed: true, spans: [{ ...DEFAULT_SPAN }] } satisfies SpecialRow)}>
              {t('hours.addSpecial')}
            </Button>
          </div>
        </div>
      )}
    </Form.List>
  );
}

function SpecialRowField({ index, onRemove }: { index: number; onRemove(): void }) {
  const { t } = useI18n();
  const closed = Form.useWatch(['special', index, 'closed']) as boolean | undefined;
  return (
    <div className="hours-row hours-special-row" data-testid="hours-special-day">
      <div className="hours-special-head">
        <Form.Item name={[index, 'date']} className="hours-inline" rules={[{ required: true, message: t('hours.problem.date') }]}
          getValueProps={(date: string | null) => ({ value: date ? dayjs(date) : null })}
          normalize={(date: Dayjs | null) => (date ? date.format('YYYY-MM-DD') : null)}>
          <DatePicker format="YYYY-MM-DD" placeholder={t('hours.date')} aria-label={t('hours.date')} className="hours-date" data-testid="hours-special-date" />
        </Form.Item>
        <Form.Item name={[index, 'label']} className="hours-inline hours-label" rules={[{ max: MAX_LABEL }]}>
          <Input placeholder={t('hours.labelPlaceholder')} aria-label={t('hours.label')} maxLength={MAX_LABEL} data-testid="hours-special-label" />
        </Form.Item>
        <Form.Item name={[index, 'closed']} valuePropName="checked" className="hours-inline hours-closed">
          <Checkbox data-testid="hours-special-closed">{t('hours.closedAllDay')}</Checkbox>
        </Form.Item>
      </div>
      {!closed && <Spans name={[index, 'spans']} path={['special', index, 'spans']} max={MAX_SPECIAL_SPANS} />}
      <Button type="text" icon={<DeleteOutlined />} onClick={onRemove} aria-label={t('hours.removeSpecial')} title={t('hours.removeSpecial')}
        className="hours-remove" data-testid="hours-special-remove" />
    </div>
  );
}

/** The spans of a day: `name` relative to the enclosing list, `path` from the form's root. */
function Spans({ name, path, max }: { name: (string | number)[]; path: (string | number)[]; max: number }) {
  const { t } = useI18n();
  const form = Form.useFormInstance();
  return (
    <Form.List name={name}>
      {(fields, { add, remove }) => (
        <div className="hours-spans">
          {fields.map((field) => (
            <div key={field.key} className="hours-span" data-testid="hours-span">
              <Form.Item name={[field.name, 'from']} className="hours-inline"><TimeSelect end={false} label={t('hours.from')} /></Form.Item>
              <span className="hours-dash" aria-hidden="true">–</span>
              <Form.Item name={[field.name, 'to']} className="hours-inline"><TimeSelect end label={t('hours.to')} /></Form.Item>
              {fields.length > 1 && (
                <Button type="text" icon={<DeleteOutlined />} onClick={() => remove(field.name)} aria-label={t('hours.removeSpan')} title={t('hours.removeSpan')} />
              )}
            </div>
          ))}
          {fields.length < max && (
            <Button type="link" icon={<PlusOutlined />} className="hours-add-span" data-testid="hours-add-span"
              onClick={() => add(nextSpan((form.getFieldValue(path) as Span[] | undefined) ?? []))}>
              {t('hours.addSpan')}
            </Button>
          )}
        </div>
      )}
    </Form.List>
  );
}

function TimeSelect({ value, onChange, id, end, label }: { value?: string; onChange?(time: string): void; id?: string; end: boolean; label: string }) {
  const { t } = useI18n();
  const options = useMemo(() => timeChoices(end, value).map((time) => ({ value: time, label: time })), [end, value]);
  return (
    <Select id={id} value={value} onChange={onChange} options={options} showSearch aria-label={label} className="hours-time" popupMatchSelectWidth={false}
      data-testid={end ? 'hours-to' : 'hours-from'}
      optionRender={(option) => (option.value === '24:00' ? `24:00 · ${t('hours.endOfDay')}` : option.label)} />
  );
}
