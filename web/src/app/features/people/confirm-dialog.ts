import { ChangeDetectionStrategy, Component, inject } from '@angular/core';
import { MatButtonModule } from '@angular/material/button';
import { MAT_DIALOG_DATA, MatDialog, MatDialogModule } from '@angular/material/dialog';
import { firstValueFrom } from 'rxjs';

export interface ConfirmRequest {
  title: string;
  message: string;
  /** The label of the button that goes ahead, e.g. "Delete olivia". */
  confirm: string;
}

/** "Are you sure?" for changes that cannot be undone; Cancel has the focus. */
@Component({
  selector: 'skiff-confirm-dialog',
  imports: [MatDialogModule, MatButtonModule],
  template: `
    <h2 mat-dialog-title>{{ data.title }}</h2>
    <mat-dialog-content>
      <p>{{ data.message }}</p>
    </mat-dialog-content>
    <mat-dialog-actions align="end">
      <button mat-button type="button" [mat-dialog-close]="false" cdkFocusInitial>Cancel</button>
      <button mat-flat-button type="button" [mat-dialog-close]="true">{{ data.confirm }}</button>
    </mat-dialog-actions>
  `,
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class ConfirmDialog {
  protected readonly data = inject<ConfirmRequest>(MAT_DIALOG_DATA);
}

export async function confirmAction(dialog: MatDialog, request: ConfirmRequest): Promise<boolean> {
  const ref = dialog.open<ConfirmDialog, ConfirmRequest, boolean>(ConfirmDialog, {
    data: request,
    role: 'alertdialog',
    width: '420px',
  });
  return (await firstValueFrom(ref.afterClosed())) === true;
}
