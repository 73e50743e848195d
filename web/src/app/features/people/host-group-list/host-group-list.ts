import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import {
  type FormGroup,
  NonNullableFormBuilder,
  ReactiveFormsModule,
  Validators,
  type FormControl,
} from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatDialog } from '@angular/material/dialog';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatSnackBar } from '@angular/material/snack-bar';
import { MatTableModule } from '@angular/material/table';

import { errorMessage } from '../../../core/errors/error-message';
import { confirmAction } from '../confirm-dialog';
import { PageActions } from '../page-actions';
import { PeopleApi } from '../people-api';
import { DISPLAY_NAME_PATTERN, type HostGroup, MAX_DESCRIPTION_LENGTH } from '../people-dtos';

type LabelPair = FormGroup<{ key: FormControl<string>; value: FormControl<string> }>;

/** The group being written: a new one (id null) or one being changed. */
interface GroupDraft {
  id: string | null;
  name: string;
}

@Component({
  selector: 'skiff-host-group-list',
  imports: [
    ReactiveFormsModule,
    MatButtonModule,
    MatFormFieldModule,
    MatInputModule,
    MatProgressBarModule,
    MatTableModule,
  ],
  templateUrl: './host-group-list.html',
  styleUrl: '../people-pages.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class HostGroupList {
  private readonly api = inject(PeopleApi);
  private readonly dialog = inject(MatDialog);
  private readonly fb = inject(NonNullableFormBuilder);
  protected readonly actions = new PageActions(inject(MatSnackBar));

  protected readonly columns = ['name', 'description', 'selector', 'hosts', 'actions'] as const;
  protected readonly groups = signal<HostGroup[] | null>(null);
  protected readonly loadError = signal<string | null>(null);
  protected readonly draft = signal<GroupDraft | null>(null);

  protected readonly form = this.fb.group({
    name: ['', [Validators.required, Validators.pattern(DISPLAY_NAME_PATTERN)]],
    description: ['', Validators.maxLength(MAX_DESCRIPTION_LENGTH)],
    labels: this.fb.array<LabelPair>([]),
  });

  constructor() {
    void this.reload();
  }

  protected async reload(): Promise<void> {
    try {
      this.groups.set(await this.api.hostGroups());
      this.loadError.set(null);
    } catch (error) {
      this.loadError.set(errorMessage(error));
    }
  }

  protected selectorPairs(selector: Record<string, string>): string[] {
    return Object.entries(selector).map(([key, value]) => `${key}=${value}`);
  }

  protected startNew(): void {
    this.fill('', '', {});
    this.draft.set({ id: null, name: '' });
  }

  protected startEdit(group: HostGroup): void {
    this.fill(group.name, group.description, group.selector);
    this.draft.set({ id: group.id, name: group.name });
  }

  protected addLabel(key = '', value = ''): void {
    this.form.controls.labels.push(
      this.fb.group({
        key: [key, [Validators.required, Validators.maxLength(253)]],
        value: [value, Validators.maxLength(253)],
      }),
    );
  }

  protected removeLabel(index: number): void {
    this.form.controls.labels.removeAt(index);
  }

  protected async save(): Promise<void> {
    const draft = this.draft();
    if (!draft) {
      return;
    }
    if (this.form.invalid) {
      this.form.markAllAsTouched();
      return;
    }
    const { name, description, labels } = this.form.getRawValue();
    const selector: Record<string, string> = {};
    for (const { key, value } of labels) {
      selector[key.trim()] = value;
    }
    const input = { name, description, selector };
    const saved = await this.actions.run(
      () => (draft.id === null ? this.api.createHostGroup(input) : this.api.updateHostGroup(draft.id, input)),
      draft.id === null ? `Created host group ${name}.` : `Saved host group ${name}.`,
    );
    if (saved) {
      this.draft.set(null);
      await this.reload();
    }
  }

  protected async remove(group: HostGroup): Promise<void> {
    const confirmed = await confirmAction(this.dialog, {
      title: `Delete host group ${group.name}?`,
      message: 'Every grant on this group goes with it.',
      confirm: `Delete ${group.name}`,
    });
    if (
      confirmed &&
      (await this.actions.run(() => this.api.deleteHostGroup(group.id), `Deleted host group ${group.name}.`))
    ) {
      await this.reload();
    }
  }

  private fill(name: string, description: string, selector: Record<string, string>): void {
    this.form.reset({ name, description });
    this.form.controls.labels.clear();
    for (const [key, value] of Object.entries(selector)) {
      this.addLabel(key, value);
    }
  }
}
